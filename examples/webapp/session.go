package webapp

import (
	"crypto/rand"
	"net/http"
	"sync"
	"time"
)

const (
	// The app usually shares the host name "localhost" with the provider,
	// and browsers do not separate cookies by port, so the names are
	// specific to this app.
	sessionCookie = "webapp_session"
	loginCookie   = "webapp_login"

	sessionLifetime = 8 * time.Hour
	// loginLifetime bounds how long a user may take at the provider.
	loginLifetime = 10 * time.Minute
)

// pendingLogin is what /login remembers for /callback.
type pendingLogin struct {
	State    string
	Nonce    string
	Verifier string // the PKCE code_verifier (RFC 7636 §4.1)
	Expires  time.Time
}

// profile is what the app learned about the user at sign-in.
type profile struct {
	Subject string
	Email   string
	Name    string

	IDTokenClaims string // pretty-printed JSON
	UserInfo      string // pretty-printed JSON
	RawIDToken    string // sent back as id_token_hint at logout
	AccessToken   string // kept server-side only, to call the API

	Scope           string // the token response's scope; may be empty
	Expiry          time.Time
	HasRefreshToken bool

	Expires time.Time // when the local session ends
}

// store keeps pending logins and sessions in memory; they vanish on restart,
// which is fine for an example.
type store struct {
	mu       sync.Mutex               // guards pending and sessions
	pending  map[string]*pendingLogin // by login cookie value
	sessions map[string]*profile      // by session cookie value
}

func newStore() *store {
	return &store{pending: map[string]*pendingLogin{}, sessions: map[string]*profile{}}
}

// putPending stores p under a new random key and returns the key.
func (s *store) putPending(p *pendingLogin) string {
	key := rand.Text()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Abandoned logins would otherwise accumulate.
	for k, v := range s.pending {
		if now.After(v.Expires) {
			delete(s.pending, k)
		}
	}
	s.pending[key] = p
	return key
}

// takePending removes and returns the pending login under key, so each can
// be used once.
func (s *store) takePending(key string) (*pendingLogin, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[key]
	delete(s.pending, key)
	if !ok || time.Now().After(p.Expires) {
		return nil, false
	}
	return p, true
}

// putSession stores p under a new random key and returns the key.
func (s *store) putSession(p *profile) string {
	key := rand.Text()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.sessions {
		if now.After(v.Expires) {
			delete(s.sessions, k)
		}
	}
	s.sessions[key] = p
	return key
}

func (s *store) session(key string) (*profile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.sessions[key]
	if !ok || time.Now().After(p.Expires) {
		return nil, false
	}
	return p, true
}

func (s *store) deleteSession(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, key)
}

// currentProfile returns the signed-in user's profile, or nil.
func (a *App) currentProfile(r *http.Request) *profile {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	p, ok := a.store.session(c.Value)
	if !ok {
		return nil
	}
	return p
}

// setCookie writes an HttpOnly, SameSite=Lax cookie; maxAge < 0 deletes it.
// Lax still sends the cookie on the provider's top-level redirect back to
// /callback, which is what carries the login across.
func (a *App) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		HttpOnly: true,
		Secure:   a.secureCookies,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}
