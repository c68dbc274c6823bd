package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/config"
	"gatehouse/internal/connector"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

const (
	upstreamCookie = "gatehouse_upstream"
	upstreamTTL    = 15 * time.Minute
)

// OpenConnector builds the connector of a stored connection (decrypting its
// secret); it is supplied by the command that knows the strategies.
type OpenConnector func(ctx context.Context, c store.Connection) (connector.CallbackConnector, error)

// connectorCache keeps opened connectors (an OpenID connection's discovery
// is a network round trip) until the connection row changes.
type connectorCache struct {
	mu sync.Mutex // guards m
	m  map[string]cachedConnector
}

type cachedConnector struct {
	updated time.Time
	c       connector.CallbackConnector
}

func (cc *connectorCache) get(ctx context.Context, open OpenConnector, conn store.Connection) (connector.CallbackConnector, error) {
	cc.mu.Lock()
	hit, ok := cc.m[conn.Name]
	cc.mu.Unlock()
	if ok && hit.updated.Equal(conn.UpdatedAt) {
		return hit.c, nil
	}
	c, err := open(ctx, conn)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.m == nil {
		cc.m = map[string]cachedConnector{}
	}
	cc.m[conn.Name] = cachedConnector{updated: conn.UpdatedAt, c: c}
	cc.mu.Unlock()
	return c, nil
}

// enabledConnections returns the connections enabled for a client: whether
// the database connection is among them, and the upstream ones.
// In an organization, only the connections enabled for both count.
func (p *Pages) enabledConnections(ctx context.Context, clientID, orgID string) (database bool, upstream []store.Connection, err error) {
	all, err := p.cfg.Store.ListConnections(ctx)
	if err != nil {
		return false, nil, fmt.Errorf("list connections: %w", err)
	}
	var org store.Organization
	if orgID != "" {
		if org, err = p.cfg.Store.GetOrganization(ctx, orgID); err != nil {
			return false, nil, fmt.Errorf("get organization: %w", err)
		}
	}
	for _, c := range all {
		if !slices.Contains(c.EnabledClients, clientID) {
			continue
		}
		if orgID != "" && !slices.ContainsFunc(org.Connections, func(oc store.OrgConnection) bool { return oc.Name == c.Name }) {
			continue
		}
		if c.Strategy == store.StrategyDatabase {
			database = database || c.Name == store.DefaultDatabaseConnection
			continue
		}
		upstream = append(upstream, c)
	}
	return database, upstream, nil
}

// providerLabel is the button text of a connection.
func providerLabel(c store.Connection) string {
	if c.Strategy == store.StrategyGitHub && c.Name == "github" {
		return "Continue with GitHub"
	}
	return "Continue with " + c.Name
}

// upstreamStart handles GET /u/login/{connection}: it sends the browser to
// the connection's provider.
func (p *Pages) upstreamStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, client, ok := p.request(w, r, r.URL.Query().Get("req"))
	if !ok {
		return
	}
	name := r.PathValue("connection")
	conn, err := p.cfg.Store.GetConnection(ctx, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!slices.Contains(conn.EnabledClients, client.ID) || conn.Strategy == store.StrategyDatabase)) ||
		(req.Connection != "" && req.Connection != name) {
		p.errorPage(w, http.StatusBadRequest, "This login method is not available for the application.")
		return
	}
	if err != nil {
		p.internalError(w, "upstream: get connection", err)
		return
	}
	c, err := p.connectors.get(ctx, p.cfg.OpenConnector, conn)
	if err != nil {
		p.cfg.Log.Error("open connection", "connection", name, "err", err)
		p.errorPage(w, http.StatusBadGateway, fmt.Sprintf("The %s login is not available right now. Try again later.", name))
		return
	}
	secret := token.NewOpaque()
	f := connector.Flow{
		State:        req.ID + "." + secret,
		Nonce:        token.NewOpaque(),
		CodeVerifier: token.NewOpaque() + token.NewOpaque()[:10], // 53 characters (RFC 7636 §4.1)
		CallbackURL:  config.IssuerURL(p.cfg.Issuer, CallbackPath),
		LoginHint:    req.LoginHint,
	}
	if err := p.cfg.Store.StartUpstreamLogin(ctx, req.ID, store.UpstreamLogin{Connection: name,
		StateHash: token.Hash(secret), Nonce: f.Nonce, Verifier: f.CodeVerifier}); err != nil {
		p.internalError(w, "upstream: update request", err)
		return
	}
	loginURL, err := c.LoginURL(ctx, f)
	if err != nil {
		p.cfg.Log.Error("upstream login URL", "connection", name, "err", err)
		p.errorPage(w, http.StatusBadGateway, fmt.Sprintf("The %s login is not available right now. Try again later.", name))
		return
	}
	// The callback must come back to this browser: a callback link planted
	// in another browser would log its owner in as someone else.
	http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Value: secret, Path: CallbackPath, MaxAge: int(upstreamTTL / time.Second),
		HttpOnly: true, Secure: p.cfg.Secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, loginURL, http.StatusFound)
}

// upstreamCallback handles GET /login/callback from every upstream provider.
func (p *Pages) upstreamCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	reqID, secret, ok := strings.Cut(r.URL.Query().Get("state"), ".")
	c, cerr := r.Cookie(upstreamCookie)
	if !ok || reqID == "" || secret == "" || cerr != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(secret)) != 1 {
		p.errorPage(w, http.StatusBadRequest, "This login response does not belong to a login started in this browser. Go back to the application and log in again.")
		return
	}
	req, err := p.cfg.Store.ConsumeUpstreamState(ctx, reqID, token.Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, "This login response is invalid, expired or was already used. Go back to the application and log in again.")
		return
	}
	if err != nil {
		p.internalError(w, "callback: consume state", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: upstreamCookie, Value: "", Path: CallbackPath, MaxAge: -1, HttpOnly: true, Secure: p.cfg.Secure, SameSite: http.SameSiteLaxMode})
	if !p.cfg.Binder.Owns(r, req) {
		// The upstream cookie matched, so this is the browser the login
		// went upstream from; it must also be the one that started it.
		p.errorPage(w, http.StatusForbidden, "This login was started in another browser. Go back to the application and log in again.")
		return
	}
	req.UpstreamStateHash = ""
	var conn store.Connection // once found; failures record its strategy
	fail := func(code, desc string) {
		e := audit.Event{Type: audit.TypeFailedLogin, Description: desc, ClientID: req.ClientID,
			OrganizationID: req.Organization, Connection: req.UpstreamConnection}
		if e.Connection == conn.Name {
			e.Strategy = conn.Strategy
		}
		p.record(r, e)
		if err := p.cfg.Store.EndAuthRequest(ctx, req.ID, code, desc); err != nil {
			p.internalError(w, "callback: update request", err)
			return
		}
		http.Redirect(w, r, resumePath+"?req="+url.QueryEscape(req.ID), http.StatusSeeOther)
	}
	conn, err = p.cfg.Store.GetConnection(ctx, req.UpstreamConnection)
	if errors.Is(err, store.ErrNotFound) {
		fail("access_denied", "the connection "+req.UpstreamConnection+" no longer exists")
		return
	}
	if err != nil {
		p.internalError(w, "callback: get connection", err)
		return
	}
	cn, err := p.connectors.get(ctx, p.cfg.OpenConnector, conn)
	if err != nil {
		p.cfg.Log.Error("open connection", "connection", conn.Name, "err", err)
		fail("server_error", "the identity provider "+conn.Name+" is not available")
		return
	}
	flow := connector.Flow{State: r.URL.Query().Get("state"), Nonce: req.UpstreamNonce, CodeVerifier: req.UpstreamVerifier,
		CallbackURL: config.IssuerURL(p.cfg.Issuer, CallbackPath), LoginHint: req.LoginHint}
	id, err := cn.HandleCallback(ctx, flow, r)
	var ue *connector.UpstreamError
	switch {
	case errors.Is(err, connector.ErrAccessDenied):
		fail("access_denied", "the user denied access at "+conn.Name)
		return
	case errors.As(err, &ue):
		p.cfg.Log.Warn("upstream login failed", "connection", conn.Name, "err", err)
		fail("server_error", "the identity provider "+conn.Name+" failed: "+ue.Description)
		return
	case err != nil:
		p.cfg.Log.Error("upstream callback", "connection", conn.Name, "err", err)
		fail("server_error", "the login through "+conn.Name+" failed")
		return
	}
	user, err := p.upsertUpstreamUser(ctx, conn, cn.Provider(), id)
	if err != nil {
		p.internalError(w, "callback: store user", err)
		return
	}
	if user.Blocked {
		fail("access_denied", "the user is blocked")
		return
	}
	p.finishLogin(w, r, req, user, conn.Strategy)
}

// upsertUpstreamUser finds the user holding the identity, refreshing the
// profile, or creates one. Accounts are never linked by email: an upstream
// that reports someone else's address gets a separate account.
func (p *Pages) upsertUpstreamUser(ctx context.Context, conn store.Connection, provider string, id connector.Identity) (store.User, error) {
	now := p.cfg.Now().UTC()
	u, err := p.cfg.Store.GetUserByIdentity(ctx, conn.Name, id.UserID)
	switch {
	case err == nil:
		u.Email, u.EmailVerified = strings.ToLower(id.Email), id.EmailVerified
		u.Name, u.Nickname, u.Picture, u.GivenName, u.FamilyName = id.Name, id.Nickname, id.Picture, id.GivenName, id.FamilyName
		u.UpdatedAt = now
		if err := p.cfg.Store.UpdateUser(ctx, u); err != nil {
			return store.User{}, fmt.Errorf("update user: %w", err)
		}
		return u, nil
	case !errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("get user by identity: %w", err)
	}
	u = store.User{
		ID:            provider + "|" + id.UserID,
		Connection:    conn.Name,
		Email:         strings.ToLower(id.Email),
		EmailVerified: id.EmailVerified,
		Name:          id.Name,
		Nickname:      id.Nickname,
		Picture:       id.Picture,
		GivenName:     id.GivenName,
		FamilyName:    id.FamilyName,
		Identities:    []store.Identity{{Connection: conn.Name, Provider: provider, UserID: id.UserID}},
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := p.cfg.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// A concurrent first login of the same identity won the race.
			return p.cfg.Store.GetUserByIdentity(ctx, conn.Name, id.UserID)
		}
		return store.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}
