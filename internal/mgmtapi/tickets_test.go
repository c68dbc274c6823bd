package mgmtapi_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// ticketOf checks a ticket link to the page path of the env's issuer and
// returns its ticket.
func (e *env) ticketOf(t *testing.T, link, path string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, e.issuer+path+"?") {
		t.Fatalf("ticket %q, want %s%s?ticket=…", link, e.issuer, path)
	}
	return u.Query().Get("ticket")
}

func TestPasswordChangeTicket(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "ada@example.com", map[string]any{"password": "the first password 1"})
	e.newClient(t, "web")
	var out struct {
		Ticket string `json:"ticket"`
	}
	e.call(t, "POST", "/api/v2/tickets/password-change", map[string]any{"user_id": u.UserID, "client_id": "web",
		"result_url": "https://app.example/done", "ttl_sec": 600, "includeEmailInRedirect": true}, 201, &out)
	tok := e.ticketOf(t, out.Ticket, database.ResetPasswordPath)
	tk, err := e.st.GetTicket(t.Context(), token.Hash(tok), store.TicketPasswordReset, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tk.UserID != u.UserID || tk.ClientID != "web" || tk.ResultURL != "https://app.example/done?email=ada%40example.com" ||
		!tk.KeepEmailUnverified || tk.ExpiresAt.Sub(tk.CreatedAt) != 10*time.Minute {
		t.Errorf("ticket %+v", tk)
	}
	// The link works with the connector behind the hosted page.
	db, err := database.Open(database.Config{Store: e.st, Params: database.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.ResetPassword(t.Context(), tok, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Login(t.Context(), "ada@example.com", "a brand new password"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}

	// By email and connection, marking the address verified.
	e.call(t, "POST", "/api/v2/tickets/password-change", map[string]any{"email": "ada@example.com",
		"connection_id": store.DefaultDatabaseConnection, "mark_email_as_verified": true}, 201, &out)
	tk, err = e.st.GetTicket(t.Context(), token.Hash(e.ticketOf(t, out.Ticket, database.ResetPasswordPath)), store.TicketPasswordReset, time.Now())
	if err != nil || tk.KeepEmailUnverified || tk.ExpiresAt.Sub(tk.CreatedAt) != database.DefaultResetTTL {
		t.Errorf("ticket by email %+v, %v", tk, err)
	}

	tokAll := e.token(t, all...)
	tests := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"nobody", map[string]any{}, 400, "is required"},
		{"unknown user", map[string]any{"user_id": "gatehouse|nope"}, 404, "not found"},
		{"unknown email", map[string]any{"email": "zed@example.com", "connection_id": store.DefaultDatabaseConnection}, 404, "not found"},
		{"organization", map[string]any{"user_id": u.UserID, "organization_id": "org_1"}, 400, "organization_id is not supported"},
		{"bad result_url", map[string]any{"user_id": u.UserID, "result_url": "done"}, 400, "result_url"},
		{"ttl too long", map[string]any{"user_id": u.UserID, "ttl_sec": 31 * 24 * 3600}, 400, "ttl_sec"},
		{"ttl huge", map[string]any{"user_id": u.UserID, "ttl_sec": 1 << 62}, 400, "ttl_sec"},
		{"ttl negative", map[string]any{"user_id": u.UserID, "ttl_sec": -5}, 400, "ttl_sec"},
		{"unknown field", map[string]any{"user_id": u.UserID, "new_password": "x"}, 400, "Additional properties not allowed: new_password"},
		{"wrong type", map[string]any{"user_id": u.UserID, "ttl_sec": "600"}, 400, "Expected type number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "POST", "/api/v2/tickets/password-change", tt.body, tokAll)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	// create:user_tickets alone is enough.
	status, body := e.do(t, "POST", "/api/v2/tickets/password-change", map[string]any{"user_id": u.UserID}, e.token(t, "create:user_tickets"))
	if status != 201 {
		t.Errorf("with create:user_tickets: %d %s", status, body)
	}
}

func TestEmailVerificationTicket(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "ada@example.com", nil)
	var out struct {
		Ticket string `json:"ticket"`
	}
	e.call(t, "POST", "/api/v2/tickets/email-verification", map[string]any{"user_id": u.UserID, "result_url": "https://app.example/ok"}, 201, &out)
	tok := e.ticketOf(t, out.Ticket, database.VerifyEmailPath)
	db, err := database.Open(database.Config{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	tk, verified, err := db.VerifyEmail(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !verified.EmailVerified || tk.ResultURL != "https://app.example/ok" {
		t.Errorf("verified %+v, ticket %+v", verified, tk)
	}

	tokAll := e.token(t, all...)
	tests := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"no user", map[string]any{}, 400, "user_id is required"},
		{"unknown user", map[string]any{"user_id": "gatehouse|nope"}, 404, "not found"},
		{"unknown client", map[string]any{"user_id": u.UserID, "client_id": "nope"}, 404, `application "nope" not found`},
		{"organization", map[string]any{"user_id": u.UserID, "organization_id": "org_1"}, 400, "organization_id is not supported"},
		{"identity", map[string]any{"user_id": u.UserID, "identity": map[string]any{"provider": "github", "user_id": "1"}}, 400, "Additional properties not allowed: identity"},
		{"email without result_url", map[string]any{"user_id": u.UserID, "includeEmailInRedirect": true}, 400, "needs a result_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "POST", "/api/v2/tickets/email-verification", tt.body, tokAll)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
}
