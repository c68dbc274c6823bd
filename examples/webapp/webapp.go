// Package webapp is an example regular web application that signs users in
// with any OpenID Connect provider, Gatehouse included, using only the
// standard library, golang.org/x/oauth2 and github.com/coreos/go-oidc/v3.
//
// It is deliberately a stock relying party: it runs the authorization code
// flow with PKCE, state and nonce, validates the ID token, calls the userinfo
// endpoint and logs out through RP-initiated logout. `gatehouse demo` serves
// it next to the provider, and end-to-end and browser tests drive it.
package webapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config configures an [App].
type Config struct {
	Issuer       string   // the provider's issuer URL, e.g. http://localhost:8080
	ClientID     string   // the client id registered at the provider
	ClientSecret string   // the client secret; empty for a public client relying on PKCE alone
	BaseURL      string   // where this app is served, e.g. http://localhost:3000; the callback is BaseURL+"/callback"
	Scopes       []string // default: openid profile email offline_access
	Audience     string   // optional; sent as audience= to /authorize when set
	// APIURL is an endpoint of the developer's own API that /call-api calls
	// with the user's access token (the seed's "call your API"). Optional.
	APIURL string

	// HTTPClient is used for discovery, JWKS, token and userinfo calls.
	// Optional; the default has a 10 second timeout.
	HTTPClient *http.Client
	// Logger receives failures that are not the user's fault. Optional;
	// defaults to slog.Default().
	Logger *slog.Logger
}

// defaultScopes are requested when [Config.Scopes] is empty.
var defaultScopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}

// App is the example web application. It is an [http.Handler].
type App struct {
	issuer        string
	baseURL       string // without a trailing slash
	audience      string
	apiURL        string
	secureCookies bool // BaseURL is https, so cookies get the Secure attribute

	client        *http.Client
	provider      *oidc.Provider
	oauth2        oauth2.Config
	verifier      *oidc.IDTokenVerifier
	endSessionURL *url.URL // from discovery; nil when the provider has none
	requireIss    bool     // discovery promises iss in authorization responses (RFC 9207)

	store  *store
	pages  *pages
	mux    *http.ServeMux
	logger *slog.Logger
}

// New validates cfg and runs OpenID Connect discovery against cfg.Issuer, so
// a misconfigured or unreachable provider is reported before serving.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("webapp: issuer is required")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("webapp: client id is required")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("webapp: base URL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	// The routes and cookies live at the root, so a path would break them.
	if strings.Trim(base.Path, "/") != "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("webapp: base URL %q must be an origin such as http://localhost:3000, without a path", cfg.BaseURL)
	}
	baseURL := strings.TrimSuffix(cfg.BaseURL, "/")

	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	scopes := slices.Clone(cfg.Scopes)
	if len(scopes) == 0 {
		scopes = slices.Clone(defaultScopes)
	}

	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("webapp: discover OpenID provider %s (is it running?): %w", cfg.Issuer, err)
	}
	var metadata struct {
		EndSessionEndpoint string `json:"end_session_endpoint"`
		IssParameter       bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := provider.Claims(&metadata); err != nil {
		return nil, fmt.Errorf("webapp: read discovery document of %s: %w", cfg.Issuer, err)
	}
	var endSessionURL *url.URL
	if metadata.EndSessionEndpoint != "" {
		endSessionURL, err = url.Parse(metadata.EndSessionEndpoint)
		if err != nil {
			return nil, fmt.Errorf("webapp: end_session_endpoint of %s: %w", cfg.Issuer, err)
		}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("webapp: %w", err)
	}

	a := &App{
		issuer:        cfg.Issuer,
		baseURL:       baseURL,
		audience:      cfg.Audience,
		apiURL:        cfg.APIURL,
		secureCookies: base.Scheme == "https",
		client:        client,
		provider:      provider,
		oauth2: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  baseURL + "/callback",
			Scopes:       scopes,
		},
		verifier:      provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		endSessionURL: endSessionURL,
		requireIss:    metadata.IssParameter,
		store:         newStore(),
		pages:         pages,
		logger:        logger,
	}
	a.routes()
	return a, nil
}

func (a *App) routes() {
	a.mux = http.NewServeMux()
	a.handle("GET /{$}", a.home)
	a.handle("GET /login", a.login)
	a.handle("GET /callback", a.callback)
	a.handle("GET /profile", a.profile)
	a.handle("GET /call-api", a.callAPI)
	a.handle("GET /logout", a.logout)
}

// ServeHTTP implements [http.Handler].
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages carry personal data and tokens' claims: keep them out of caches,
	// frames and other origins. The pages need no scripts, styles or images.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	a.mux.ServeHTTP(w, r)
}

// handle mounts a handler that returns an error; the error is written once, here.
func (a *App) handle(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err == nil {
			return
		}
		var pe *pageError
		if !errors.As(err, &pe) {
			pe = &pageError{Status: http.StatusInternalServerError, Title: "Something went wrong", err: err}
		}
		level := slog.LevelInfo
		if pe.Status >= 500 {
			level = slog.LevelError
		}
		a.logger.Log(r.Context(), level, "webapp request failed", "path", r.URL.Path, "status", pe.Status, "err", err)
		a.pages.renderError(w, pe)
	})
}

// pageError is an error shown to the user as an HTML error page.
type pageError struct {
	Status      int
	Title       string
	Code        string // an OAuth 2.0 / OpenID Connect error code, when there is one
	Description string
	err         error // the cause, logged for 5xx; never shown
}

func (e *pageError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, e.Title)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *pageError) Unwrap() error { return e.err }

// httpContext makes x/oauth2 and go-oidc use the configured HTTP client.
func (a *App) httpContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, a.client)
}

// home serves the start page: a login link, or who is signed in.
func (a *App) home(w http.ResponseWriter, r *http.Request) error {
	return a.pages.renderHome(w, homePage{Profile: a.currentProfile(r)})
}

// profile shows everything the app learned at sign-in.
func (a *App) profile(w http.ResponseWriter, r *http.Request) error {
	p := a.currentProfile(r)
	if p == nil {
		http.Redirect(w, r, "/", http.StatusFound)
		return nil
	}
	return a.pages.renderProfile(w, profilePage{Profile: p, APIConfigured: a.apiURL != ""})
}

// callAPI calls the configured API with the user's access token and shows
// its answer on the profile page.
func (a *App) callAPI(w http.ResponseWriter, r *http.Request) error {
	p := a.currentProfile(r)
	if p == nil {
		http.Redirect(w, r, "/", http.StatusFound)
		return nil
	}
	if a.apiURL == "" {
		return &pageError{Status: http.StatusNotFound, Title: "No API configured", Description: "Start the app with an API URL to call."}
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, a.apiURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.AccessToken)
	resp, err := a.client.Do(req)
	if err != nil {
		return &pageError{Status: http.StatusBadGateway, Title: "The API could not be reached", err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return a.pages.renderProfile(w, profilePage{Profile: p, APIConfigured: true,
		APIStatus: resp.StatusCode, APIResponse: string(body), APIChallenge: resp.Header.Get("WWW-Authenticate")})
}
