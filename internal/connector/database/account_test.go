package database

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/connector"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// accountEnv is a database connection on a fresh SQLite store whose clock
// the test moves.
type accountEnv struct {
	st store.Store
	c  *Connector

	mu  sync.Mutex // guards now
	now time.Time
}

func newAccountEnv(t *testing.T) *accountEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &accountEnv{st: st, now: time.Now()}
	e.c, err = Open(Config{Store: st, Params: cheap, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *accountEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *accountEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// signUp creates a database user with the password.
func (e *accountEnv) signUp(t *testing.T, email, password string) store.User {
	t.Helper()
	u, err := e.c.SignUp(t.Context(), email, password, "")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// issue issues a ticket, failing the test on error.
func (e *accountEnv) issue(t *testing.T, kind string, u store.User) string {
	t.Helper()
	tok, err := IssueTicket(t.Context(), e.st, kind, u, DefaultResetTTL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantLogin fails unless the password logs the user in (ok) or is refused.
func (e *accountEnv) wantLogin(t *testing.T, email, password string, ok bool) {
	t.Helper()
	_, err := e.c.Login(t.Context(), email, password)
	if ok && err != nil {
		t.Errorf("login with %q: %v, want success", password, err)
	}
	if !ok && !errors.Is(err, connector.ErrInvalidCredentials) {
		t.Errorf("login with %q: %v, want invalid credentials", password, err)
	}
}

func TestTicketURL(t *testing.T) {
	for _, tt := range []struct {
		name, issuer, kind, want, wantErr string
	}{
		{"reset", "https://id.example.com", store.TicketPasswordReset, "https://id.example.com/u/reset-password?ticket=abc_-9", ""},
		{"verification", "https://id.example.com/tenant", store.TicketEmailVerification, "https://id.example.com/tenant/u/verify-email?ticket=abc_-9", ""},
		{"trailing slash", "http://localhost:8080/", store.TicketPasswordReset, "http://localhost:8080/u/reset-password?ticket=abc_-9", ""},
		{"unknown kind", "https://id.example.com", "invitation", "", `unknown ticket kind "invitation"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TicketURL(tt.issuer, tt.kind, "abc_-9")
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("TicketURL = %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestIssueTicket(t *testing.T) {
	e := newAccountEnv(t)
	ctx := t.Context()
	u := e.signUp(t, "ada@example.com", "analytical engine")

	before := time.Now()
	tok, err := IssueTicket(ctx, e.st, store.TicketPasswordReset, u, 10*time.Minute, "client-1", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 {
		t.Errorf("token %q: want 43 characters of base64url (256 bits)", tok)
	}
	if _, err := e.st.GetTicket(ctx, tok, store.TicketPasswordReset, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the raw token is stored as an ID: %v", err)
	}
	got, err := e.st.GetTicket(ctx, token.Hash(tok), store.TicketPasswordReset, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != u.ID || got.Email != u.Email || got.ClientID != "client-1" || got.RequestID != "req-1" ||
		got.CreatedAt.Before(before.Truncate(time.Millisecond)) || got.ExpiresAt.Sub(got.CreatedAt) != 10*time.Minute {
		t.Errorf("stored ticket %+v", got)
	}

	// A newer reset link withdraws the older; verification links stay.
	tok2 := e.issue(t, store.TicketPasswordReset, u)
	if _, err := e.st.GetTicket(ctx, token.Hash(tok), store.TicketPasswordReset, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("older reset link after a newer one: %v, want not found", err)
	}
	if _, err := e.st.GetTicket(ctx, token.Hash(tok2), store.TicketPasswordReset, time.Now()); err != nil {
		t.Errorf("newer reset link: %v", err)
	}
	v1, v2 := e.issue(t, store.TicketEmailVerification, u), e.issue(t, store.TicketEmailVerification, u)
	for _, v := range []string{v1, v2} {
		if _, err := e.st.GetTicket(ctx, token.Hash(v), store.TicketEmailVerification, time.Now()); err != nil {
			t.Errorf("verification link: %v", err)
		}
	}
	if _, err := e.st.GetTicket(ctx, token.Hash(tok2), store.TicketPasswordReset, time.Now()); err != nil {
		t.Errorf("reset link after verification links: %v", err)
	}

	for _, tt := range []struct {
		name string
		kind string
		user store.User
		ttl  time.Duration
		want string
	}{
		{"unknown kind", "invitation", u, time.Hour, "unknown ticket kind"},
		{"zero ttl", store.TicketPasswordReset, u, 0, "not between"},
		{"negative ttl", store.TicketPasswordReset, u, -time.Minute, "not between"},
		{"ttl too long", store.TicketEmailVerification, u, 31 * 24 * time.Hour, "not between"},
		{"unknown user", store.TicketPasswordReset, store.User{ID: "gatehouse|nobody"}, time.Hour, "not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := IssueTicket(ctx, e.st, tt.kind, tt.user, tt.ttl, "", "")
			if tok != "" || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("IssueTicket = %q, %v; want an error with %q", tok, err, tt.want)
			}
		})
	}
}

func TestSetPassword(t *testing.T) {
	e := newAccountEnv(t)
	ctx := t.Context()
	u := e.signUp(t, "ada@example.com", "analytical engine")
	if err := e.st.RecordLogin(ctx, u.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	reset := e.issue(t, store.TicketPasswordReset, u)
	verify := e.issue(t, store.TicketEmailVerification, u)

	if err := e.c.SetPassword(ctx, u.ID, "difference engine"); err != nil {
		t.Fatal(err)
	}
	e.wantLogin(t, "ada@example.com", "difference engine", true)
	e.wantLogin(t, "ada@example.com", "analytical engine", false)
	got, err := e.st.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LoginsCount != 1 || got.Name != u.Name || got.PasswordHash == u.PasswordHash || !got.UpdatedAt.After(u.UpdatedAt.Add(-time.Millisecond)) {
		t.Errorf("user after SetPassword: %+v", got)
	}
	if _, err := e.st.GetTicket(ctx, token.Hash(reset), store.TicketPasswordReset, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reset link after SetPassword: %v, want withdrawn", err)
	}
	if _, err := e.st.GetTicket(ctx, token.Hash(verify), store.TicketEmailVerification, time.Now()); err != nil {
		t.Errorf("verification link after SetPassword: %v, want kept", err)
	}

	social := store.User{ID: "github|1815", Connection: "github", Email: "ada@example.com"}
	if err := e.st.CreateUser(ctx, social); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, user, password string
		policy               bool
		want                 error
		wantText             string
	}{
		{"too short", u.ID, "short", true, nil, "too short: use at least 8 characters"},
		{"too long", u.ID, strings.Repeat("x", 1025), true, nil, "too long"},
		{"the email", u.ID, "ADA@example.com", true, nil, "must not be the email"},
		{"unknown user", "gatehouse|nobody", "a fine password", false, store.ErrNotFound, "not found"},
		{"social user", social.ID, "a fine password", false, ErrNotPasswordUser, "does not sign in with a password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.c.SetPassword(ctx, tt.user, tt.password)
			var pe *PolicyError
			if errors.As(err, &pe) != tt.policy || (tt.want != nil && !errors.Is(err, tt.want)) ||
				err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("SetPassword = %v; want policy error %v, %v, %q", err, tt.policy, tt.want, tt.wantText)
			}
		})
	}
	// Nothing refused changed the password.
	e.wantLogin(t, "ada@example.com", "difference engine", true)
}

func TestResetPassword(t *testing.T) {
	e := newAccountEnv(t)
	ctx := t.Context()
	u := e.signUp(t, "ada@example.com", "analytical engine")
	tok, err := IssueTicket(ctx, e.st, store.TicketPasswordReset, u, DefaultResetTTL, "client-1", "req-1")
	if err != nil {
		t.Fatal(err)
	}

	// The form: the ticket is shown, not spent, however often.
	for range 2 {
		tk, who, err := e.c.CheckResetTicket(ctx, tok)
		if err != nil || who.ID != u.ID || tk.ClientID != "client-1" || tk.RequestID != "req-1" {
			t.Fatalf("CheckResetTicket = %+v, %+v, %v", tk, who, err)
		}
	}
	// A refused password leaves the link usable.
	var pe *PolicyError
	if _, _, err := e.c.ResetPassword(ctx, tok, "short"); !errors.As(err, &pe) {
		t.Fatalf("weak password: %v, want a policy error", err)
	}
	tk, who, err := e.c.ResetPassword(ctx, tok, "difference engine")
	if err != nil || who.ID != u.ID || tk.RequestID != "req-1" {
		t.Fatalf("ResetPassword = %+v, %+v, %v", tk, who, err)
	}
	e.wantLogin(t, "ada@example.com", "difference engine", true)
	e.wantLogin(t, "ada@example.com", "analytical engine", false)

	for _, tt := range []struct {
		name string
		tok  string
		want error
	}{
		{"used", tok, store.ErrAlreadyUsed},
		{"forged", token.NewOpaque(), store.ErrNotFound},
		{"empty", "", store.ErrNotFound},
		{"the hash instead of the token", token.Hash(tok), store.ErrNotFound},
		{"a verification link", e.issue(t, store.TicketEmailVerification, u), store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := e.c.CheckResetTicket(ctx, tt.tok); !errors.Is(err, tt.want) {
				t.Errorf("CheckResetTicket: %v, want %v", err, tt.want)
			}
			if _, _, err := e.c.ResetPassword(ctx, tt.tok, "yet another password"); !errors.Is(err, tt.want) {
				t.Errorf("ResetPassword: %v, want %v", err, tt.want)
			}
		})
	}
	e.wantLogin(t, "ada@example.com", "difference engine", true)

	t.Run("expired", func(t *testing.T) {
		tok := e.issue(t, store.TicketPasswordReset, u)
		// The ticket's clock is the wall clock, which is past e's.
		e.advance(DefaultResetTTL + time.Minute)
		defer e.advance(-DefaultResetTTL - time.Minute)
		if _, _, err := e.c.ResetPassword(ctx, tok, "yet another password"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired link: %v, want not found", err)
		}
	})
	t.Run("email changed since", func(t *testing.T) {
		tok := e.issue(t, store.TicketPasswordReset, u)
		moved := u
		moved.Email = "ada@new.example"
		if err := e.st.UpdateUser(ctx, moved); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := e.st.UpdateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}()
		if _, _, err := e.c.ResetPassword(ctx, tok, "yet another password"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("link sent to the old address: %v, want not found", err)
		}
	})
	t.Run("user deleted", func(t *testing.T) {
		gone := e.signUp(t, "gone@example.com", "analytical engine")
		tok := e.issue(t, store.TicketPasswordReset, gone)
		if err := e.st.DeleteUser(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.c.ResetPassword(ctx, tok, "yet another password"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("link of a deleted user: %v, want not found", err)
		}
	})
	t.Run("twenty at once", func(t *testing.T) {
		tok := e.issue(t, store.TicketPasswordReset, u)
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, errs[i] = e.c.ResetPassword(context.WithoutCancel(ctx), tok, "password number "+strings.Repeat("!", i))
			})
		}
		wg.Wait()
		ok, used := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrAlreadyUsed):
				used++
			default:
				t.Errorf("concurrent reset: %v", err)
			}
		}
		if ok != 1 || used != n-1 {
			t.Errorf("%d concurrent resets: %d ok, %d already used; want 1 and %d", n, ok, used, n-1)
		}
	})
}

func TestVerifyEmail(t *testing.T) {
	e := newAccountEnv(t)
	ctx := t.Context()
	u := e.signUp(t, "ada@example.com", "analytical engine")
	if u.EmailVerified {
		t.Fatal("a new user's email is verified")
	}
	reset := e.issue(t, store.TicketPasswordReset, u)
	tok, err := IssueTicket(ctx, e.st, store.TicketEmailVerification, u, DefaultVerificationTTL, "client-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.c.VerifyEmail(ctx, reset); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a reset link verifies: %v", err)
	}
	tk, who, err := e.c.VerifyEmail(ctx, tok)
	if err != nil || !who.EmailVerified || tk.ClientID != "client-1" {
		t.Fatalf("VerifyEmail = %+v, %+v, %v", tk, who, err)
	}
	if got, err := e.st.GetUser(ctx, u.ID); err != nil || !got.EmailVerified || got.PasswordHash != u.PasswordHash {
		t.Errorf("user after verification: %+v, %v", got, err)
	}
	if _, _, err := e.c.VerifyEmail(ctx, tok); !errors.Is(err, store.ErrAlreadyUsed) {
		t.Errorf("second use: %v, want already used", err)
	}
	if _, _, err := e.c.VerifyEmail(ctx, token.NewOpaque()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("forged link: %v, want not found", err)
	}

	// A link to the old address does not verify the new one.
	old := e.issue(t, store.TicketEmailVerification, u)
	moved, _ := e.st.GetUser(ctx, u.ID)
	moved.Email, moved.EmailVerified = "ada@new.example", false
	if err := e.st.UpdateUser(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.c.VerifyEmail(ctx, old); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link sent to the old address: %v, want not found", err)
	}
	if got, _ := e.st.GetUser(ctx, u.ID); got.EmailVerified {
		t.Error("the new address is verified by a link sent to the old one")
	}
}

func TestRevokeUserSessions(t *testing.T) {
	e := newAccountEnv(t)
	ctx := t.Context()
	now := time.Now()
	const ada, bob = "gatehouse|ada", "gatehouse|bob"
	for _, s := range []store.Session{{ID: "s1", UserID: ada}, {ID: "s2", UserID: ada}, {ID: "s3", UserID: bob}} {
		s.CreatedAt, s.ExpiresAt = now, now.Add(time.Hour)
		if err := e.st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []store.RefreshToken{{ID: "r1", FamilyID: "f1", UserID: ada}, {ID: "r2", FamilyID: "f2", UserID: bob}} {
		r.CreatedAt, r.ExpiresAt = now, now.Add(time.Hour)
		if err := e.st.CreateRefreshToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	sessions, families, err := RevokeUserSessions(ctx, e.st, ada, "s2")
	if err != nil || sessions != 1 || families != 1 {
		t.Fatalf("RevokeUserSessions = %d, %d, %v; want 1, 1", sessions, families, err)
	}
	for id, live := range map[string]bool{"s1": false, "s2": true, "s3": true} {
		if _, err := e.st.GetSession(ctx, id, now); (err == nil) != live {
			t.Errorf("session %s: %v, want live %v", id, err, live)
		}
	}
	for id, revoked := range map[string]bool{"r1": true, "r2": false} {
		if r, err := e.st.GetRefreshToken(ctx, id); err != nil || r.Revoked != revoked {
			t.Errorf("refresh token %s: %+v, %v; want revoked %v", id, r, err, revoked)
		}
	}
}
