package mgmt_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func TestBackchannelLogoutURIValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, uri string
		msg       string // "" when accepted
	}{
		{"https", "https://app.example/backchannel", ""},
		{"none", "", ""},
		{"http loopback v4", "http://127.0.0.1:3000/bc", ""},
		{"http loopback v6", "http://[::1]:3000/bc", ""},
		{"http localhost", "http://localhost:3000/bc", "only for 127.0.0.1"},
		{"http", "http://app.example/bc", "use https"},
		{"relative", "/bc", "not an absolute URL"},
		{"fragment", "https://app.example/bc#x", "fragment"},
		{"other scheme", "ftp://app.example/bc", "must use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mgmt.NewClient{ClientSettings: webApp("App")}
			in.BackchannelLogoutURI = &tt.uri
			c, _, err := e.svc.CreateClient(t.Context(), in)
			if tt.msg != "" {
				wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "backchannel_logout_uri", tt.msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BackchannelLogoutURI != tt.uri {
				t.Errorf("stored URI %q, want %q", c.BackchannelLogoutURI, tt.uri)
			}
		})
	}
	// Update checks it too, and "" turns it off.
	c, _, err := e.svc.CreateClient(t.Context(), mgmt.NewClient{ClientSettings: webApp("Upd")})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.UpdateClient(t.Context(), c.ID, mgmt.ClientSettings{BackchannelLogoutURI: ptr("http://app.example/bc")})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "backchannel_logout_uri", "use https")
	got, _, err := e.svc.UpdateClient(t.Context(), c.ID, mgmt.ClientSettings{BackchannelLogoutURI: ptr("https://app.example/bc")})
	if err != nil || got.BackchannelLogoutURI != "https://app.example/bc" {
		t.Fatalf("update: %q, %v", got.BackchannelLogoutURI, err)
	}
	got, _, err = e.svc.UpdateClient(t.Context(), c.ID, mgmt.ClientSettings{BackchannelLogoutURI: ptr("")})
	if err != nil || got.BackchannelLogoutURI != "" {
		t.Fatalf("turn off: %q, %v", got.BackchannelLogoutURI, err)
	}
}

// TestOperatorLogoutQueuesBackchannel checks that every way an operator
// ends sessions queues the logout tokens owed to the applications those
// sessions signed into, and only theirs.
func TestOperatorLogoutQueuesBackchannel(t *testing.T) {
	tests := []struct {
		name string
		end  func(e *env) error
		want []string // sessions whose delivery is queued
	}{
		{"delete session", func(e *env) error { return e.svc.DeleteSession(t.Context(), "sess-1") }, []string{"sess-1"}},
		{"delete user sessions", func(e *env) error { return e.svc.DeleteUserSessions(t.Context(), "gatehouse|ada") }, []string{"sess-1", "sess-2"}},
		{"delete user", func(e *env) error { return e.svc.DeleteUser(t.Context(), "gatehouse|ada") }, []string{"sess-1", "sess-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			in := mgmt.NewClient{ID: "rp", ClientSettings: webApp("RP")}
			in.BackchannelLogoutURI = ptr("https://rp.example/bc")
			if _, _, err := e.svc.CreateClient(ctx, in); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "plain", ClientSettings: webApp("Plain")}); err != nil {
				t.Fatal(err)
			}
			if err := e.st.CreateUser(ctx, store.User{ID: "gatehouse|ada", Connection: store.DefaultDatabaseConnection, Email: "ada@example.com", CreatedAt: e.now}); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"sess-1", "sess-2"} {
				s := store.Session{ID: id, UserID: "gatehouse|ada", AuthTime: e.now, CreatedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}
				if err := e.st.CreateSession(ctx, s); err != nil {
					t.Fatal(err)
				}
				for _, c := range []string{"rp", "plain"} {
					if err := e.st.RecordSessionClient(ctx, id, c, e.now); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := tt.end(e); err != nil {
				t.Fatal(err)
			}
			got, err := e.st.ClaimLogoutDeliveries(ctx, e.now, time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			var sessions []string
			for _, d := range got {
				if d.ClientID != "rp" || d.UserID != "gatehouse|ada" {
					t.Errorf("delivery %+v, want one for rp and ada", d)
				}
				sessions = append(sessions, d.SessionID)
			}
			slices.Sort(sessions)
			if !slices.Equal(sessions, tt.want) {
				t.Errorf("queued deliveries for sessions %v, want %v", sessions, tt.want)
			}
		})
	}
}
