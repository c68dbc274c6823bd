package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/authflow"
	"gatehouse/internal/config"
	"gatehouse/internal/connector"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/web"
)

// Config wires a Provider.
type Config struct {
	Issuer   string
	Store    store.Store
	Keys     *token.Keys
	Sessions *session.Manager
	Pages    *web.Renderer
	Log      *slog.Logger
	// Binder binds pending authorization requests to the browser that
	// started them.
	Binder authflow.Binder

	CodeTTL         time.Duration
	IDTokenTTL      time.Duration
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration // idle lifetime of a refresh token
	// RefreshAbsoluteTTL caps a refresh-token family's life.
	RefreshAbsoluteTTL time.Duration
	// RefreshGracePeriod is how long after a rotation the previous
	// refresh token, presented again, returns the same successor (a
	// client retrying a lost response) instead of revoking the family;
	// 0 makes rotated tokens strictly single-use. The server's
	// configuration defaults it to 30 s.
	RefreshGracePeriod time.Duration
	AuthRequestTTL     time.Duration
	// PendingRequestsPerIP is how many authorization requests that need a
	// hosted page (and so are stored) one client network may start per
	// minute; 0 means 60, a negative value no limit.
	PendingRequestsPerIP int
	// Claims copy user metadata into namespaced token claims.
	Claims []config.ClaimRule
	Now    func() time.Time

	// MFAPolicy is the server's second-factor policy (mfa.Policy*);
	// never when empty.
	MFAPolicy string

	// Audit records token exchanges and logouts; nil records nothing.
	Audit audit.Recorder

	// LogoutURLs are the server's own allowed logout URLs: where
	// /v2/logout may return to when the request names no application.
	LogoutURLs []string
	// OpenConnector opens upstream connections for the federated logout
	// of /v2/logout; nil ignores federated.
	OpenConnector func(ctx context.Context, c store.Connection) (connector.CallbackConnector, error)
}

// Provider serves the protocol endpoints.
type Provider struct {
	cfg    Config
	grants []registeredGrant           // in the order discovery lists them
	cop    *http.CrossOriginProtection // refuses cross-site logout form posts
	// logoutWake wakes the LogoutSender when a logout queued deliveries.
	logoutWake chan struct{}
	// origins caches the applications' allowed origins (CORS).
	origins originSet
	// reuses reports reused codes and refresh tokens once per grant.
	reuses reuseLog
	// successors seals the value of each rotated refresh token for the
	// retries of its predecessor within the grace period.
	successors *token.Sealer
}

// New validates cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.Issuer == "" || cfg.Store == nil || cfg.Keys == nil || cfg.Sessions == nil || cfg.Pages == nil {
		return nil, errors.New("oauth: issuer, store, keys, sessions and pages are required")
	}
	if len(cfg.Binder.CSRFKey) == 0 {
		return nil, errors.New("oauth: a browser binder is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.CodeTTL, time.Minute)
	def(&cfg.IDTokenTTL, time.Hour)
	def(&cfg.AccessTokenTTL, time.Hour)
	def(&cfg.RefreshTokenTTL, 30*24*time.Hour)
	def(&cfg.AuthRequestTTL, 30*time.Minute)
	def(&cfg.RefreshAbsoluteTTL, 365*24*time.Hour)
	if cfg.PendingRequestsPerIP == 0 {
		cfg.PendingRequestsPerIP = defaultPendingRequestsPerIP
	}
	successors, err := token.NewSealer(cfg.Keys.DeriveKey("refresh token successors"))
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	p := &Provider{cfg: cfg, cop: http.NewCrossOriginProtection(), logoutWake: make(chan struct{}, 1), successors: successors}
	p.grants = []registeredGrant{
		{name: store.GrantAuthorizationCode, grant: codeGrant{p}},
		{name: store.GrantRefreshToken, grant: refreshGrant{p}},
		{name: store.GrantClientCredentials, confidential: true, grant: clientCredentialsGrant{p}},
	}
	return p, nil
}

// Mount registers the protocol routes on mux.
func (p *Provider) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /authorize", p.authorize)
	mux.HandleFunc("GET "+authflow.ResumePath, p.resume)
	mux.HandleFunc("POST /oauth/token", p.cors(p.token))
	mux.HandleFunc("/oauth/token", postOnly)
	mux.HandleFunc("POST /oauth/revoke", p.cors(p.revoke))
	mux.HandleFunc("POST /oauth/introspect", p.introspect)
	mux.HandleFunc("/oauth/revoke", postOnly)
	mux.HandleFunc("/oauth/introspect", postOnly)
	mux.HandleFunc("GET /v2/logout", p.v2Logout)
	mux.HandleFunc("GET /oidc/logout", p.oidcLogout)
	mux.HandleFunc("POST /oidc/logout", p.oidcLogout)
	mux.HandleFunc("GET /userinfo", p.cors(p.userinfo))
	mux.HandleFunc("POST /userinfo", p.cors(p.userinfo))
	// Browser apps read discovery and the keys from their allowed
	// origins only, as they call the token endpoint.
	mux.HandleFunc("GET /.well-known/openid-configuration", p.cors(p.discovery))
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", p.cors(p.discovery))
	mux.HandleFunc("GET /.well-known/jwks.json", p.cors(p.jwks))
	p.mountFallbacks(mux)
	p.mountCORS(mux)
}

func (p *Provider) now() time.Time { return p.cfg.Now().UTC() }

// endpoint is the public URL of one of the server's paths.
func (p *Provider) endpoint(path string) string { return config.IssuerURL(p.cfg.Issuer, path) }
