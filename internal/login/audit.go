package login

import (
	"errors"
	"net/http"

	"gatehouse/internal/audit"
	"gatehouse/internal/connector"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
)

// The hosted pages' audit events. Recording never waits for the database
// (internal/audit), and every outcome records one event the same way, so
// what is recorded changes neither the answer nor its timing: a wrong
// password (fp) and an unknown email (fu) are told apart in the log only.

// record writes an event about the browser of r.
func (p *Pages) record(r *http.Request, e audit.Event) {
	if p.cfg.Audit != nil {
		p.cfg.Audit.Record(e.FromRequest(r))
	}
}

// requestEvent is an event of the login that req started at client.
func requestEvent(typ, description string, req store.AuthRequest, client store.Client) audit.Event {
	return audit.Event{Type: typ, Description: description, ClientID: client.ID, ClientName: client.Name,
		OrganizationID: req.Organization}
}

// withUser adds the user to the event: its ID, its email (or name) as the
// user name, and the connection it belongs to.
func withUser(e audit.Event, u store.User) audit.Event {
	e.UserID = u.ID
	e.UserName = u.Email
	if e.UserName == "" {
		e.UserName = u.Name
	}
	if e.Connection == "" {
		e.Connection = u.Connection
	}
	return e
}

// withPasswordConnection marks the event as the password connection's.
func withPasswordConnection(e audit.Event) audit.Event {
	e.Connection, e.Strategy = store.DefaultDatabaseConnection, store.StrategyDatabase
	return e
}

// failedPasswordLogin is the event of a refused password login of the
// typed email: fp for a known user with a wrong password, fu for an
// unknown email, f for a blocked user.
func failedPasswordLogin(err error, email string, req store.AuthRequest, client store.Client) audit.Event {
	e := withPasswordConnection(requestEvent(audit.TypeFailedLogin, "", req, client))
	e.UserName = email
	var ce *connector.CredentialsError
	switch {
	case errors.As(err, &ce) && ce.UserID != "":
		e.Type, e.UserID, e.Description = audit.TypeFailedLoginPassword, ce.UserID, "Wrong email or password."
	case errors.Is(err, connector.ErrInvalidCredentials):
		e.Type, e.Description = audit.TypeFailedLoginUsername, "Wrong email or password."
	case errors.Is(err, connector.ErrBlocked):
		e.Description = "user is blocked"
	}
	return e
}

// ticketEvent is an event of a used email link: its user, and the
// application and request the link came from.
func (p *Pages) ticketEvent(r *http.Request, typ string, t store.Ticket, u store.User) audit.Event {
	e := withUser(audit.Event{Type: typ, ClientID: t.ClientID}, u)
	if t.ClientID != "" {
		if c, err := p.cfg.Store.GetClient(r.Context(), t.ClientID); err == nil {
			e.ClientName = c.Name
		}
	}
	return e
}

// recordTicketFailure records a link that could not be used. The link is
// not recorded (it is a credential) and neither is a user: a forged link
// names none.
func (p *Pages) recordTicketFailure(r *http.Request, typ string, err error) {
	desc := "the link is invalid or has expired"
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		desc = "the link was already used"
	case errors.Is(err, store.ErrNotFound), errors.Is(err, database.ErrNotPasswordUser):
	default:
		return // the store failed: the log says so, the audit log would be wrong
	}
	p.record(r, audit.Event{Type: typ, Description: desc})
}

// weakPassword describes a password the policy refused by the rule it
// broke, never by what was typed.
func weakPassword(err error) string {
	var pe *database.PolicyError
	if errors.As(err, &pe) {
		return "password refused by the policy: " + string(pe.Rule)
	}
	return "password refused by the policy"
}
