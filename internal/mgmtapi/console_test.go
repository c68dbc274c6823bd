package mgmtapi_test

import (
	"strings"
	"testing"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// TestConsoleAdminTokens checks the admin console's tokens: accepted for a
// user holding an admin role, narrowed to read:* for the read-only role,
// refused once the role is gone, and a user's ordinary token (or one that
// only pretends to be the console's) refused outright; an admin's change
// is recorded under the admin's user ID.
func TestConsoleAdminTokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.svc.EnsureConsole(ctx); err != nil {
		t.Fatal(err)
	}
	admin := e.createUser(t, "admin@example.com", map[string]any{"password": "correct horse battery staple"})
	if _, err := e.svc.AddAdmin(ctx, "admin@example.com", false); err != nil {
		t.Fatal(err)
	}
	reader := e.createUser(t, "reader@example.com", map[string]any{"password": "correct horse battery staple"})
	if _, err := e.svc.AddAdmin(ctx, reader.UserID, true); err != nil {
		t.Fatal(err)
	}
	plain := e.createUser(t, "plain@example.com", map[string]any{"password": "correct horse battery staple"})
	consoleToken := func(sub string, over map[string]any) string {
		claims := map[string]any{"sub": sub, "client_id": mgmt.ConsoleClientID, "gty": mgmt.ConsoleGrantType,
			"scope": strings.Join(all, " ")}
		for k, v := range over {
			claims[k] = v
		}
		return e.tokenWith(t, claims)
	}
	newApp := map[string]any{"name": "Shop", "callbacks": []string{"https://shop.example/cb"}}

	tests := []struct {
		name       string
		tok        string
		method     string
		body       any
		wantStatus int
		wantMsg    string
	}{
		{name: "admin reads", tok: consoleToken(admin.UserID, nil), method: "GET", wantStatus: 200},
		{name: "admin writes", tok: consoleToken(admin.UserID, nil), method: "POST", body: newApp, wantStatus: 201},
		{name: "read-only reads", tok: consoleToken(reader.UserID, nil), method: "GET", wantStatus: 200},
		{name: "read-only writes", tok: consoleToken(reader.UserID, nil), method: "POST", body: newApp,
			wantStatus: 403, wantMsg: "Insufficient scope"},
		{name: "non-admin user", tok: consoleToken(plain.UserID, nil), method: "GET", wantStatus: 403, wantMsg: "no longer an admin"},
		{name: "unknown user", tok: consoleToken("gatehouse|nobody", nil), method: "GET", wantStatus: 403},
		// What the token endpoint gives a user who logs in to any
		// application, the console included: no console grant type.
		{name: "ordinary user token", tok: consoleToken(admin.UserID, map[string]any{"gty": "authorization_code"}),
			method: "GET", wantStatus: 403, wantMsg: "client_credentials only"},
		{name: "ordinary user token without gty", tok: consoleToken(admin.UserID, map[string]any{"gty": ""}),
			method: "GET", wantStatus: 403, wantMsg: "client_credentials only"},
		{name: "console grant type from another client", tok: consoleToken(admin.UserID, map[string]any{"client_id": "other"}),
			method: "GET", wantStatus: 403, wantMsg: "client_credentials only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(t, tc.method, "/api/v2/clients", tc.body, tc.tok)
			if tc.wantStatus >= 400 {
				wantError(t, status, body, tc.wantStatus, tc.wantMsg)
			} else if status != tc.wantStatus {
				t.Fatalf("status %d, body %s", status, body)
			}
		})
	}

	t.Run("role removed", func(t *testing.T) {
		tok := consoleToken(admin.UserID, nil)
		if _, err := e.svc.RemoveAdmin(ctx, admin.UserID); err != nil {
			t.Fatal(err)
		}
		status, body := e.do(t, "GET", "/api/v2/clients", nil, tok)
		wantError(t, status, body, 403, "no longer an admin")
		if _, err := e.svc.AddAdmin(ctx, admin.UserID, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("audit names the admin", func(t *testing.T) {
		if err := e.audit.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		events, err := e.st.ListLogs(ctx, store.LogFilter{Ascending: true})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, ev := range events {
			if ev.Type == "sapi" && strings.HasPrefix(ev.Description, "Create an application") {
				found = true
				if ev.UserID != admin.UserID || ev.ClientID != mgmt.ConsoleClientID {
					t.Errorf("event user %q client %q, want %q %q", ev.UserID, ev.ClientID, admin.UserID, mgmt.ConsoleClientID)
				}
			}
		}
		if !found {
			t.Fatalf("no sapi event for the created application in %d events", len(events))
		}
	})
}

// TestAdminLevels checks the role store's say: blocked admins are none,
// the full role wins over the read-only one, and RemoveAdmin of a
// non-admin is a 404.
func TestAdminLevels(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	u := e.createUser(t, "ada@example.com", map[string]any{"password": "correct horse battery staple"})
	if l, err := e.svc.AdminLevelOf(ctx, u.UserID); err != nil || l != mgmt.AdminNone {
		t.Fatalf("before: %v %v", l, err)
	}
	if _, err := e.svc.RemoveAdmin(ctx, u.UserID); err == nil || !strings.Contains(err.Error(), "not an admin") {
		t.Fatalf("remove a non-admin: %v", err)
	}
	if _, err := e.svc.AddAdmin(ctx, u.UserID, true); err != nil {
		t.Fatal(err)
	}
	if l, _ := e.svc.AdminLevelOf(ctx, u.UserID); l != mgmt.AdminReadOnly {
		t.Fatalf("read-only: %v", l)
	}
	if _, err := e.svc.AddAdmin(ctx, "ada@example.com", false); err != nil {
		t.Fatal(err)
	}
	admins, err := e.svc.ListAdmins(ctx)
	if err != nil || len(admins) != 1 || admins[0].ReadOnly {
		t.Fatalf("admins %+v, %v", admins, err)
	}
	e.call(t, "PATCH", "/api/v2/users/"+u.UserID, map[string]any{"blocked": true}, 200, nil)
	if l, _ := e.svc.AdminLevelOf(ctx, u.UserID); l != mgmt.AdminNone {
		t.Fatalf("blocked admin: %v", l)
	}
	if got := mgmt.AdminReadOnly.Scopes(); len(got) == 0 || !strings.HasPrefix(got[0], "read:") {
		t.Fatalf("read-only scopes %v", got)
	}
	for _, s := range mgmt.AdminReadOnly.Scopes() {
		if !strings.HasPrefix(s, "read:") {
			t.Fatalf("read-only scope %s", s)
		}
	}
}
