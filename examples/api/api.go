// Package api is an example protected API: an OAuth 2.0 resource server that
// accepts the JWT access tokens Gatehouse issues for it (RFC 9068), using
// only the standard library and go-jose.
//
// It is deliberately a stock resource server. It learns the issuer's signing
// keys through OpenID Connect discovery, checks every token the way RFC 9068
// §4 asks, and reports failures as RFC 6750 bearer challenges, so it works
// with any issuer of RFC 9068 tokens, and what works against it should work
// against other standard resource servers.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config configures an [API].
type Config struct {
	Issuer   string // the token issuer, exactly as in the tokens' iss claim, e.g. http://localhost:8080
	Audience string // this API's identifier; tokens must list it in aud, e.g. https://api.example.com

	// HTTPClient fetches the discovery document and the signing keys.
	// Optional; the default has a 10 second timeout.
	HTTPClient *http.Client
	// Logger receives failures that are not the caller's fault. Optional;
	// defaults to slog.Default().
	Logger *slog.Logger
}

// API is the example protected API. It is an [http.Handler] serving
//
//	GET /api/public    no token needed
//	GET /api/private   any valid access token
//	GET /api/messages  an access token with the read:messages scope
type API struct {
	issuer   string
	audience string
	keys     *keyCache
	now      func() time.Time
	mux      *http.ServeMux
	logger   *slog.Logger
}

// maxDocumentBytes bounds the discovery document and the JWKS we read.
const maxDocumentBytes = 1 << 20

// New runs OpenID Connect discovery against cfg.Issuer and fetches its
// signing keys, so a misconfigured or unreachable issuer is reported before
// serving.
func New(ctx context.Context, cfg Config) (*API, error) {
	return newAPI(ctx, cfg, time.Now)
}

// newAPI is [New] with a clock, so tests can move time.
func newAPI(ctx context.Context, cfg Config, now func() time.Time) (*API, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("api: issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("api: audience is required")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}

	discovery := strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, client, discovery, &meta); err != nil {
		return nil, fmt.Errorf("api: discover issuer %s (is it running?): %w", cfg.Issuer, err)
	}
	// OpenID Connect Discovery 1.0 §4.3: the document must name the issuer
	// it was fetched for, or we would trust another issuer's keys.
	if meta.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("api: discovery document at %s is for issuer %q, not %q", discovery, meta.Issuer, cfg.Issuer)
	}
	u, err := url.Parse(meta.JWKSURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("api: discovery document at %s has no usable jwks_uri (%q)", discovery, meta.JWKSURI)
	}

	a := &API{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		keys:     &keyCache{uri: meta.JWKSURI, client: client, now: now},
		now:      now,
		logger:   logger,
	}
	if err := a.keys.refresh(ctx); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a.routes()
	return a, nil
}

func (a *API) routes() {
	a.mux = http.NewServeMux()
	a.handle("GET /api/public", noToken, a.public)
	a.handle("GET /api/private", anyToken, a.private)
	a.handle("GET /api/messages", withScope("read:messages"), a.messages)
}

// ServeHTTP implements [http.Handler].
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Answers depend on the caller's token: keep them out of shared caches
	// (RFC 6750 §5.3 asks the same of the token itself).
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	a.mux.ServeHTTP(w, r)
}

// access is what a route asks of the caller.
type access struct {
	token bool   // a valid access token is required
	scope string // the token must also carry this scope, when set
}

var (
	noToken  = access{}
	anyToken = access{token: true}
)

func withScope(scope string) access { return access{token: true, scope: scope} }

// endpoint serves one route and returns the JSON response body. tok is the
// caller's validated access token, nil on routes that need none.
type endpoint func(r *http.Request, tok *accessToken) (any, error)

// handle mounts fn behind the checks acc asks for; errors from either are
// written once, here.
func (a *API) handle(pattern string, acc access, fn endpoint) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, err := a.serve(r, acc, fn)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

func (a *API) serve(r *http.Request, acc access, fn endpoint) (any, error) {
	if !acc.token {
		return fn(r, nil)
	}
	raw, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	tok, err := a.verify(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	if acc.scope != "" && !slices.Contains(tok.Scopes, acc.scope) {
		// RFC 6750 §3.1: name the scope that would have been enough.
		return nil, &bearerError{
			Status:      http.StatusForbidden,
			Code:        "insufficient_scope",
			Description: "the access token lacks the " + acc.scope + " scope",
			Scope:       acc.scope,
		}
	}
	return fn(r, tok)
}

func (a *API) public(*http.Request, *accessToken) (any, error) {
	return map[string]string{"message": "Hello from a public endpoint. You don't need a token to see this."}, nil
}

func (a *API) private(_ *http.Request, tok *accessToken) (any, error) {
	return map[string]string{
		"sub":       tok.Subject,
		"client_id": tok.ClientID,
		"scope":     strings.Join(tok.Scopes, " "),
	}, nil
}

type message struct {
	ID   int    `json:"id"`
	From string `json:"from"`
	Text string `json:"text"`
}

func (a *API) messages(*http.Request, *accessToken) (any, error) {
	return map[string][]message{"messages": {
		{ID: 1, From: "Gatehouse", Text: "Your token carries the read:messages scope."},
		{ID: 2, From: "Example API", Text: "This list is the same for everyone; a real API would look at sub."},
	}}, nil
}

// writeError writes err: a bearer challenge for token problems, 503 when the
// issuer's keys cannot be fetched, 500 for anything else.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var be *bearerError
	switch {
	case errors.As(err, &be):
		a.logger.Log(r.Context(), slog.LevelDebug, "api: request refused", "path", r.URL.Path, "status", be.Status, "err", err)
		be.write(w)
	case errors.Is(err, errKeysUnavailable):
		// Not the token's fault, so not invalid_token: that would make
		// clients throw away good tokens while the issuer is down.
		a.logger.Error("api: cannot check token", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{
			Code:        "temporarily_unavailable",
			Description: "the issuer's signing keys cannot be fetched; try again later",
		})
	default:
		a.logger.Error("api: request failed", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Code: "server_error", Description: "internal error"})
	}
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Code        string `json:"error,omitempty"`
	Description string `json:"error_description,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status is sent; a failed write means the client has gone.
	_ = json.NewEncoder(w).Encode(v)
}

// getJSON fetches a JSON document from uri into v.
func getJSON(ctx context.Context, client *http.Client, uri string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", uri, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", uri, err)
	}
	return nil
}
