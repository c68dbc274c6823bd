package login

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
)

// ticketPath returns the page path of a ticket issued with opts.
func (e *env) ticketPath(t *testing.T, kind string, u store.User, opts database.TicketOptions) string {
	t.Helper()
	tok, err := database.IssueTicketWith(context.Background(), e.st, kind, u, time.Hour, opts)
	if err != nil {
		t.Fatal(err)
	}
	link, err := database.TicketURL(testIssuer, kind, tok)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(link, testIssuer)
}

// TestTicketResultURL: a ticket made through the management API sends the
// browser to its result URL once used, and a reset ticket handed out
// rather than mailed leaves the address unverified.
func TestTicketResultURL(t *testing.T) {
	const result = "https://app.example/done?step=2"
	tests := []struct {
		name         string
		keep         bool
		wantVerified bool
	}{
		{"mailed to the address", false, true},
		{"handed out", true, false},
	}
	for _, tt := range tests {
		t.Run("reset "+tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.dbUser(t, "ada@example.com", "the old password 1")
			path := e.ticketPath(t, store.TicketPasswordReset, u, database.TicketOptions{ResultURL: result, KeepEmailUnverified: tt.keep})
			b := e.browser(t)
			r := b.get(path)
			if r.status != http.StatusOK {
				t.Fatalf("reset page: %d %.300s", r.status, r.body)
			}
			vals := form(t, r)
			vals.Set("password", "a brand new password")
			r = b.post(authflow.ResetPasswordPath, vals)
			if r.status != http.StatusSeeOther || r.location != result {
				t.Fatalf("reset: %d %q, want a redirect to %s", r.status, r.location, result)
			}
			if s, ok := e.hasSession(t, b); !ok || s.UserID != u.ID {
				t.Error("the reset did not log the browser in")
			}
			got, err := e.st.GetUser(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.EmailVerified != tt.wantVerified {
				t.Errorf("email verified = %v, want %v", got.EmailVerified, tt.wantVerified)
			}
		})
	}
	t.Run("email verification", func(t *testing.T) {
		e := newEnv(t)
		u := e.dbUser(t, "ada@example.com", "the old password 1")
		path := e.ticketPath(t, store.TicketEmailVerification, u, database.TicketOptions{ResultURL: result})
		b := e.browser(t)
		r := b.post(authflow.VerifyEmailPath, form(t, b.get(path)))
		if r.status != http.StatusSeeOther || r.location != result {
			t.Fatalf("verify: %d %q, want a redirect to %s", r.status, r.location, result)
		}
		if got, _ := e.st.GetUser(context.Background(), u.ID); !got.EmailVerified {
			t.Error("the address is not verified")
		}
	})
	t.Run("without a result URL", func(t *testing.T) {
		e := newEnv(t)
		u := e.dbUser(t, "ada@example.com", "the old password 1")
		b := e.browser(t)
		path := e.ticketPath(t, store.TicketEmailVerification, u, database.TicketOptions{})
		if r := b.post(authflow.VerifyEmailPath, form(t, b.get(path))); r.status != http.StatusOK || r.location != "" {
			t.Fatalf("verify: %d %q, want the message page", r.status, r.location)
		}
	})
}
