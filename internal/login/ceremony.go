package login

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// ceremonyCookie names the browser's WebAuthn ceremony in progress. The
// ceremony itself (its challenge) is kept server-side and taken once by
// the post that answers it, so a response cannot be replayed, and only the
// browser holding the cookie can finish it.
const ceremonyCookie = "gatehouse_webauthn"

// ceremonyTTL is how long a ceremony may take from page to post; the same
// as mfa.Service's default timeout, which the options tell the browser.
const ceremonyTTL = 5 * time.Minute

// What a ceremony is for: each page finishes only its own kind.
const (
	purposeChallenge = "challenge" // a second factor during a login
	purposeEnroll    = "enroll"    // a first security key during a login
	purposePasskey   = "passkey"   // a passkey login
	purposeAccount   = "account"   // a key or passkey added on the account page
	purposeStepUp    = "step-up"   // a second factor before an account change
)

// ceremony is what is stored between the page and the post.
type ceremony struct {
	Purpose   string      `json:"purpose"`
	RequestID string      `json:"request_id,omitempty"`
	UserID    string      `json:"user_id,omitempty"`
	Session   mfa.Session `json:"session"`
}

// errNoCeremony means the post answers no ceremony of this browser: none
// was started, it expired, it was answered already, or it was for another
// page, request or user.
var errNoCeremony = errors.New("no webauthn ceremony in progress")

func (p *Pages) ceremonyCookieName() string {
	if p.cfg.Secure {
		return "__Host-" + ceremonyCookie
	}
	return ceremonyCookie
}

// beginCeremony stores c and gives the browser the cookie naming it,
// replacing any ceremony the browser had begun.
func (p *Pages) beginCeremony(w http.ResponseWriter, r *http.Request, c ceremony) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("begin ceremony: %w", err)
	}
	value := token.NewOpaque()
	now := p.cfg.Now().UTC()
	if err := p.cfg.Store.CreateCeremony(r.Context(), store.Ceremony{ID: token.Hash(value), Data: data,
		ExpiresAt: now.Add(ceremonyTTL)}); err != nil {
		return fmt.Errorf("begin ceremony: %w", err)
	}
	// Strict: the post that answers comes from Gatehouse's own page.
	http.SetCookie(w, &http.Cookie{Name: p.ceremonyCookieName(), Value: value, Path: "/",
		MaxAge: int(ceremonyTTL / time.Second), HttpOnly: true, Secure: p.cfg.Secure, SameSite: http.SameSiteStrictMode})
	return nil
}

// takeCeremony takes the browser's ceremony, which must be for purpose,
// the request and the user given; errNoCeremony otherwise. The ceremony is
// spent either way.
func (p *Pages) takeCeremony(w http.ResponseWriter, r *http.Request, purpose, requestID, userID string) (mfa.Session, error) {
	ck, err := r.Cookie(p.ceremonyCookieName())
	if err != nil || ck.Value == "" {
		return mfa.Session{}, errNoCeremony
	}
	http.SetCookie(w, &http.Cookie{Name: p.ceremonyCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.cfg.Secure, SameSite: http.SameSiteStrictMode})
	stored, err := p.cfg.Store.TakeCeremony(r.Context(), token.Hash(ck.Value), p.cfg.Now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return mfa.Session{}, errNoCeremony
	}
	if err != nil {
		return mfa.Session{}, fmt.Errorf("take ceremony: %w", err)
	}
	var c ceremony
	if err := json.Unmarshal(stored.Data, &c); err != nil {
		return mfa.Session{}, fmt.Errorf("take ceremony: %w", err)
	}
	if c.Purpose != purpose || c.RequestID != requestID || c.UserID != userID {
		return mfa.Session{}, errNoCeremony
	}
	return c.Session, nil
}
