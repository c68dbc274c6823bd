package mgmt_test

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

const ticketIssuer = "https://id.example"

// ticketEnv is a Service with an issuer, and the database connector the
// hosted pages use the tickets with.
type ticketEnv struct {
	svc *mgmt.Service
	st  store.Store
	db  *database.Connector
}

func newTicketEnv(t *testing.T) *ticketEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	db, err := database.Open(database.Config{Store: st, Params: database.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := mgmt.New(mgmt.Config{Store: st, Issuer: ticketIssuer, Passwords: db})
	if err != nil {
		t.Fatal(err)
	}
	return &ticketEnv{svc: svc, st: st, db: db}
}

// ticketOf returns the ticket token of a link to the page path.
func ticketOf(t *testing.T, link, path string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || ticketIssuer+u.Path != ticketIssuer+path || !strings.HasPrefix(link, ticketIssuer+path+"?") {
		t.Fatalf("link %q, want %s%s?ticket=…", link, ticketIssuer, path)
	}
	return u.Query().Get("ticket")
}

func TestPasswordChangeTicket(t *testing.T) {
	e := newTicketEnv(t)
	ctx := t.Context()
	u, err := e.db.SignUp(ctx, "ada@example.com", "the first password", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "web", ClientSettings: webApp("Web")}); err != nil {
		t.Fatal(err)
	}
	link, err := e.svc.CreatePasswordChangeTicket(ctx, mgmt.PasswordChangeTicket{UserID: u.ID, ClientID: "web",
		ResultURL: "https://app.example/done?x=1", IncludeEmail: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tok := ticketOf(t, link, database.ResetPasswordPath)
	tk, _, err := e.db.CheckResetTicket(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if tk.ClientID != "web" || tk.ResultURL != "https://app.example/done?email=ada%40example.com&x=1" || !tk.KeepEmailUnverified ||
		tk.ExpiresAt.Sub(tk.CreatedAt) != time.Hour {
		t.Errorf("ticket %+v", tk)
	}
	// The link is consumable: the new password works, once.
	if _, _, err := e.db.ResetPassword(ctx, tok, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Login(ctx, "ada@example.com", "a brand new password"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if _, _, err := e.db.ResetPassword(ctx, tok, "yet another password"); !errors.Is(err, store.ErrAlreadyUsed) {
		t.Errorf("second use: %v", err)
	}

	// By email and connection, verifying the address, with the default
	// lifetime.
	link, err = e.svc.CreatePasswordChangeTicket(ctx, mgmt.PasswordChangeTicket{Email: "ADA@example.com",
		Connection: store.DefaultDatabaseConnection, MarkEmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	tk, _, err = e.db.CheckResetTicket(ctx, ticketOf(t, link, database.ResetPasswordPath))
	if err != nil {
		t.Fatal(err)
	}
	if tk.KeepEmailUnverified || tk.ResultURL != "" || tk.ExpiresAt.Sub(tk.CreatedAt) != database.DefaultResetTTL {
		t.Errorf("ticket by email %+v", tk)
	}

	if err := e.st.CreateConnection(ctx, store.Connection{Name: "github", Strategy: store.StrategyGitHub}); err != nil {
		t.Fatal(err)
	}
	social := store.User{ID: "github|1", Connection: "github", Email: "gh@example.com", Identities: []store.Identity{{Connection: "github", Provider: "github", UserID: "1"}}}
	if err := e.st.CreateUser(ctx, social); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		in          mgmt.PasswordChangeTicket
		status      int
		code, field string
		msg         string
	}{
		{"nobody", mgmt.PasswordChangeTicket{}, 400, mgmt.CodeInvalidBody, "user_id", "is required"},
		{"email without connection", mgmt.PasswordChangeTicket{Email: "ada@example.com"}, 400, mgmt.CodeInvalidBody, "user_id", "is required"},
		{"both", mgmt.PasswordChangeTicket{UserID: u.ID, Email: "ada@example.com", Connection: store.DefaultDatabaseConnection}, 400, mgmt.CodeInvalidBody, "user_id", "not both"},
		{"unknown user", mgmt.PasswordChangeTicket{UserID: "gatehouse|nope"}, 404, "inexistent_user", "", "not found"},
		{"unknown email", mgmt.PasswordChangeTicket{Email: "zed@example.com", Connection: store.DefaultDatabaseConnection}, 404, "inexistent_user", "", "not found"},
		{"unknown connection", mgmt.PasswordChangeTicket{Email: "ada@example.com", Connection: "nope"}, 404, "inexistent_connection", "", "not found"},
		{"social connection", mgmt.PasswordChangeTicket{Email: "gh@example.com", Connection: "github"}, 400, mgmt.CodeOperationNotSupported, "connection_id", "not a database connection"},
		{"social user", mgmt.PasswordChangeTicket{UserID: social.ID}, 400, mgmt.CodeOperationNotSupported, "user_id", "no password to change"},
		{"unknown application", mgmt.PasswordChangeTicket{UserID: u.ID, ClientID: "nope"}, 404, "inexistent_client", "", "not found"},
		{"relative result URL", mgmt.PasswordChangeTicket{UserID: u.ID, ResultURL: "/done"}, 400, mgmt.CodeInvalidBody, "result_url", "absolute"},
		{"javascript result URL", mgmt.PasswordChangeTicket{UserID: u.ID, ResultURL: "javascript:alert(1)"}, 400, mgmt.CodeInvalidBody, "result_url", "absolute"},
		{"email in redirect without one", mgmt.PasswordChangeTicket{UserID: u.ID, IncludeEmail: true}, 400, mgmt.CodeInvalidBody, "includeEmailInRedirect", "needs a result_url"},
		{"too long", mgmt.PasswordChangeTicket{UserID: u.ID, TTL: 31 * 24 * time.Hour}, 400, mgmt.CodeInvalidBody, "ttl_sec", "30 days"},
		{"negative", mgmt.PasswordChangeTicket{UserID: u.ID, TTL: -time.Second}, 400, mgmt.CodeInvalidBody, "ttl_sec", "30 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreatePasswordChangeTicket(t.Context(), tt.in)
			wantError(t, err, tt.status, tt.code, tt.field, tt.msg)
		})
	}
}

func TestEmailVerificationTicket(t *testing.T) {
	e := newTicketEnv(t)
	ctx := t.Context()
	u, err := e.db.SignUp(ctx, "ada@example.com", "the first password", "Ada")
	if err != nil {
		t.Fatal(err)
	}
	link, err := e.svc.CreateEmailVerificationTicket(ctx, mgmt.EmailVerificationTicket{UserID: u.ID, ResultURL: "https://app.example/verified"})
	if err != nil {
		t.Fatal(err)
	}
	tok := ticketOf(t, link, database.VerifyEmailPath)
	tk, got, err := e.db.VerifyEmail(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !got.EmailVerified || tk.ResultURL != "https://app.example/verified" || tk.ExpiresAt.Sub(tk.CreatedAt) != database.DefaultVerificationTTL {
		t.Errorf("verified %v, ticket %+v", got.EmailVerified, tk)
	}
	if stored, _ := e.st.GetUser(ctx, u.ID); !stored.EmailVerified {
		t.Error("the address is not verified in the store")
	}

	noMail := store.User{ID: "gatehouse|nomail", Connection: store.DefaultDatabaseConnection}
	if err := e.st.CreateUser(ctx, noMail); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		in          mgmt.EmailVerificationTicket
		status      int
		code, field string
		msg         string
	}{
		{"no user", mgmt.EmailVerificationTicket{}, 400, mgmt.CodeInvalidBody, "user_id", "is required"},
		{"unknown user", mgmt.EmailVerificationTicket{UserID: "gatehouse|nope"}, 404, "inexistent_user", "", "not found"},
		{"no email", mgmt.EmailVerificationTicket{UserID: noMail.ID}, 400, mgmt.CodeOperationNotSupported, "user_id", "no email address"},
		{"bad result URL", mgmt.EmailVerificationTicket{UserID: u.ID, ResultURL: "https://user:pw@app.example/"}, 400, mgmt.CodeInvalidBody, "result_url", "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateEmailVerificationTicket(t.Context(), tt.in)
			wantError(t, err, tt.status, tt.code, tt.field, tt.msg)
		})
	}

	// Without an issuer there is no link to make.
	svc, err := mgmt.New(mgmt.Config{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateEmailVerificationTicket(ctx, mgmt.EmailVerificationTicket{UserID: u.ID}); err == nil || errors.As(err, new(*mgmt.Error)) {
		t.Errorf("ticket without an issuer: %v, want an internal error", err)
	}
}
