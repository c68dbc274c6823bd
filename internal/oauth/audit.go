package oauth

import (
	"errors"
	"net/http"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// exchange is how far a token request got, for its audit event.
type exchange struct {
	grantType string
	clientID  string        // as the request named it, authenticated or not
	client    *store.Client // once authenticated
}

// exchangeTypes are the audit event types of each grant: success, failure.
var exchangeTypes = map[string][2]string{
	store.GrantAuthorizationCode: {audit.TypeSuccessCodeExchange, audit.TypeFailedCodeExchange},
	store.GrantRefreshToken:      {audit.TypeSuccessRefreshExchange, audit.TypeFailedRefreshExchange},
	store.GrantClientCredentials: {audit.TypeSuccessClientCredentials, audit.TypeFailedClientCredentials},
}

// recordExchange records a token request of a grant Gatehouse offers:
// the grant's success or failure event, with the error's code and
// description (never a code, token or secret of the request). Requests of
// unknown grants, and unreadable ones, are not recorded.
func (p *Provider) recordExchange(r *http.Request, ex exchange, resp *tokenResponse, err error) {
	if p.cfg.Audit == nil {
		return
	}
	types, ok := exchangeTypes[ex.grantType]
	if !ok {
		return
	}
	e := audit.Event{Type: types[0], ClientID: ex.clientID}.FromRequest(r)
	if ex.client != nil {
		e.ClientName = ex.client.Name
	}
	if err == nil {
		e.UserID, e.Audience, e.Scope = resp.userID, resp.audience, resp.Scope
		e.Description = "Successful exchange"
		p.cfg.Audit.Record(e)
		return
	}
	e.Type = types[1]
	var oe *Error
	if errors.As(err, &oe) {
		e.Description = oe.Description
		e.Details = map[string]any{"error": oe.Code}
	} else {
		e.Description = "the server could not complete the request"
		e.Details = map[string]any{"error": ErrServerError}
	}
	p.cfg.Audit.Record(e)
}

// recordLogout records the end of the user's session (slo), at the
// application that asked for it when it said which.
func (p *Provider) recordLogout(r *http.Request, s store.Session, clientID string) {
	if p.cfg.Audit == nil {
		return
	}
	e := audit.Event{Type: audit.TypeSuccessLogout, Description: "User successfully logged out", UserID: s.UserID, ClientID: clientID}
	if clientID != "" {
		if c, err := p.cfg.Store.GetClient(r.Context(), clientID); err == nil {
			e.ClientName = c.Name
		}
	}
	if u, err := p.cfg.Store.GetUser(r.Context(), s.UserID); err == nil {
		e.UserName, e.Connection = u.Email, u.Connection
	}
	p.cfg.Audit.Record(e.FromRequest(r))
}
