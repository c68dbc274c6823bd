package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// CookieName is the name of the SSO session cookie.
const CookieName = "gatehouse_session"

// Manager reads and writes SSO sessions.
type Manager struct {
	Store  store.Store
	TTL    time.Duration
	Secure bool // set the Secure attribute (the issuer is https)
	Now    func() time.Time
}

// Get returns the browser's live session. ok is false when there is none,
// it expired, or it was ended.
func (m *Manager) Get(r *http.Request) (s store.Session, ok bool, err error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return store.Session{}, false, nil
	}
	s, err = m.Store.GetSession(r.Context(), token.Hash(c.Value), m.Now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, false, nil
	}
	if err != nil {
		return store.Session{}, false, fmt.Errorf("get session: %w", err)
	}
	return s, true, nil
}

// Start creates a session for userID and sets its cookie. Any session the
// browser had is ended first, so a login never reuses a session id
// (no session fixation).
func (m *Manager) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, userID string, methods []string) (store.Session, error) {
	if err := m.End(ctx, w, r); err != nil {
		return store.Session{}, err
	}
	value := token.NewOpaque()
	now := m.Now().UTC()
	s := store.Session{
		ID:        token.Hash(value),
		UserID:    userID,
		AuthTime:  now,
		Methods:   methods,
		CreatedAt: now,
		ExpiresAt: now.Add(m.TTL),
	}
	if err := m.Store.CreateSession(ctx, s); err != nil {
		return store.Session{}, fmt.Errorf("start session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     "/",
		Expires:  s.ExpiresAt,
		HttpOnly: true,
		Secure:   m.Secure,
		SameSite: http.SameSiteLaxMode,
	})
	return s, nil
}

// End deletes the browser's session, if any, and clears its cookie.
func (m *Manager) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	if err := m.Store.DeleteSession(ctx, token.Hash(c.Value)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: m.Secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// PublicID is the session's "sid" claim: derived from the stored id (itself
// a hash of the cookie), so it names the session without revealing the cookie.
func PublicID(s store.Session) string {
	return token.Hash("sid:" + s.ID)
}
