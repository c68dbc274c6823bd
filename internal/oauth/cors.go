package oauth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// corsCacheTTL is how long the set of allowed origins is kept in memory: a
// preflight comes before nearly every token request of a browser app, and
// the set changes only when an application's allowed origins do.
const corsCacheTTL = 10 * time.Second

// corsMaxAge is how long a browser may keep a preflight's answer.
const corsMaxAge = "600"

// originSet caches the allowed origins (CORS) of every application.
type originSet struct {
	mu      sync.Mutex // guards origins and expires
	origins map[string]bool
	expires time.Time
}

// allowedOrigin reports whether some application lists origin among its
// allowed origins.
func (p *Provider) allowedOrigin(ctx context.Context, origin string) (bool, error) {
	now := p.now()
	s := &p.origins
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.origins == nil || !now.Before(s.expires) {
		clients, err := p.cfg.Store.ListClients(ctx)
		if err != nil {
			return false, err
		}
		m := map[string]bool{}
		for _, c := range clients {
			for _, o := range c.AllowedOrigins {
				m[o] = true
			}
		}
		s.origins, s.expires = m, now.Add(corsCacheTTL)
	}
	return s.origins[strings.ToLower(origin)], nil
}

// cors lets browser apps on an allowed origin call h (the Fetch
// standard's CORS protocol): their responses carry
// Access-Control-Allow-Origin for that origin, and nothing for any other.
// Credentials (cookies) are never allowed: these endpoints authenticate
// the client and the user with parameters and bearer tokens.
func (p *Provider) cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" {
			ok, err := p.allowedOrigin(r.Context(), origin)
			if err != nil {
				p.cfg.Log.Warn("cors: list allowed origins", "err", err)
			}
			if ok {
				w.Header().Set("Access-Control-Allow-Origin", origin)
			}
		}
		h(w, r)
	}
}

// preflight answers a CORS preflight for methods: with the allowed
// methods and headers for an allowed origin, with none for any other, so
// that the browser refuses the request. An OPTIONS request that is no
// preflight goes to other, the path's answer to unsupported methods.
func (p *Provider) preflight(methods string, other http.HandlerFunc) http.HandlerFunc {
	withCORS := p.cors(func(w http.ResponseWriter, r *http.Request) {
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Auth0-Client")
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == "" || r.Header.Get("Access-Control-Request-Method") == "" {
			other(w, r)
			return
		}
		withCORS(w, r)
	}
}

// mountCORS adds the preflight routes of the endpoints browser apps call.
func (p *Provider) mountCORS(mux *http.ServeMux) {
	mux.HandleFunc("OPTIONS /oauth/token", p.preflight("POST", postOnly))
	mux.HandleFunc("OPTIONS /oauth/revoke", p.preflight("POST", postOnly))
	mux.HandleFunc("OPTIONS /userinfo", p.preflight("GET, POST", bearerMethodNotAllowed))
}
