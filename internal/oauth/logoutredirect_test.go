package oauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/oidc"
	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

const tenantLogoutURL = "https://tenant.example/bye"

// TestLogoutReturnTo checks where /v2/logout may return to: with a
// client_id only to that application's logout URLs, without one only to
// the server's own list (logout.allowed_urls), as the hosted service
// does; /oidc/logout keeps needing the application. A refused URL leaves
// the session alone.
func TestLogoutReturnTo(t *testing.T) {
	e := newEnvWith(t, func(c *oauth.Config) { c.LogoutURLs = []string{tenantLogoutURL} })
	app := e.newClient(t, oauth.NewClientParams{FirstParty: true, LogoutURLs: []string{logoutURL}})
	tests := []struct {
		name   string
		path   string
		params url.Values
		want   string // Location; "" for the error page
	}{
		{"server list, no client_id", "/v2/logout", url.Values{"returnTo": {tenantLogoutURL}}, tenantLogoutURL},
		{"app URL without client_id", "/v2/logout", url.Values{"returnTo": {logoutURL}}, ""},
		{"server URL with a longer path", "/v2/logout", url.Values{"returnTo": {tenantLogoutURL + "/x"}}, ""},
		{"server URL with a query", "/v2/logout", url.Values{"returnTo": {tenantLogoutURL + "?x=1"}}, ""},
		{"server URL, other case", "/v2/logout", url.Values{"returnTo": {"https://TENANT.example/bye"}}, ""},
		{"app URL with client_id", "/v2/logout", url.Values{"client_id": {app.ID}, "returnTo": {logoutURL}}, logoutURL},
		{"server URL with client_id", "/v2/logout", url.Values{"client_id": {app.ID}, "returnTo": {tenantLogoutURL}}, ""},
		{"unknown client_id", "/v2/logout", url.Values{"client_id": {"nope"}, "returnTo": {tenantLogoutURL}}, ""},
		{"oidc logout ignores the server list", "/oidc/logout", url.Values{"post_logout_redirect_uri": {tenantLogoutURL}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, sess, cookie := e.login(t)
			r := e.get(t, tt.path, tt.params, cookie)
			_, err := e.st.GetSession(t.Context(), sess.ID, e.clock.Now())
			if tt.want == "" {
				if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
					t.Fatalf("got %d to %q, want the error page", r.status, r.header.Get("Location"))
				}
				if err != nil {
					t.Errorf("a refused logout ended the session: %v", err)
				}
				return
			}
			if r.status != http.StatusFound || r.header.Get("Location") != tt.want {
				t.Fatalf("got %d to %q, want a redirect to %q", r.status, r.header.Get("Location"), tt.want)
			}
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session after logout: %v", err)
			}
		})
	}

	// Without a configured list nothing passes without a client_id.
	bare := newEnv(t)
	_, _, cookie := bare.login(t)
	if r := bare.get(t, "/v2/logout", url.Values{"returnTo": {tenantLogoutURL}}, cookie); r.status != http.StatusBadRequest {
		t.Errorf("returnTo without client_id and no server list: %d", r.status)
	}
}

// fakeUpstream is an OpenID provider's discovery document, with an
// end_session_endpoint unless noLogout.
func fakeUpstream(t *testing.T, noLogout bool) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := map[string]any{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize", "token_endpoint": srv.URL + "/token",
			"jwks_uri": srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		}
		if !noLogout {
			d["end_session_endpoint"] = srv.URL + "/v2/logout"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFederatedLogout checks /v2/logout?federated: a user of an OpenID
// connection whose provider has an end_session_endpoint is sent there,
// with the returnTo as post_logout_redirect_uri; every other user, or a
// provider that cannot be reached, gets the local logout only.
func TestFederatedLogout(t *testing.T) {
	withLogout, withoutLogout, down := fakeUpstream(t, false), fakeUpstream(t, true), fakeUpstream(t, false)
	down.Close()
	open := func(ctx context.Context, c store.Connection) (connector.CallbackConnector, error) {
		return oidc.Open(ctx, oidc.Config{Name: c.Name, Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: "upstream-secret"})
	}
	e := newEnvWith(t, func(c *oauth.Config) {
		c.LogoutURLs = []string{tenantLogoutURL}
		c.OpenConnector = open
	})
	for name, srv := range map[string]*httptest.Server{"corp": withLogout, "nologout": withoutLogout, "down": down} {
		if err := e.st.CreateConnection(t.Context(), store.Connection{Name: name, Strategy: store.StrategyOIDC, Issuer: srv.URL, ClientID: "gh-" + name}); err != nil {
			t.Fatal(err)
		}
	}
	upstream := func(returnTo string) string {
		q := url.Values{"client_id": {"gh-corp"}}
		if returnTo != "" {
			q.Set("post_logout_redirect_uri", returnTo)
		}
		return withLogout.URL + "/v2/logout?" + q.Encode()
	}
	tests := []struct {
		name       string
		connection string // "" for a database user
		params     url.Values
		want       string
	}{
		{"oidc user", "corp", url.Values{"federated": {""}, "returnTo": {tenantLogoutURL}}, upstream(tenantLogoutURL)},
		{"oidc user, federated with a value", "corp", url.Values{"federated": {"true"}, "returnTo": {tenantLogoutURL}}, upstream(tenantLogoutURL)},
		{"oidc user without returnTo", "corp", url.Values{"federated": {""}}, upstream("")},
		{"oidc user, not federated", "corp", url.Values{"returnTo": {tenantLogoutURL}}, tenantLogoutURL},
		{"provider without end_session_endpoint", "nologout", url.Values{"federated": {""}, "returnTo": {tenantLogoutURL}}, tenantLogoutURL},
		{"provider unreachable", "down", url.Values{"federated": {""}, "returnTo": {tenantLogoutURL}}, tenantLogoutURL},
		{"database user", "", url.Values{"federated": {""}, "returnTo": {tenantLogoutURL}}, tenantLogoutURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, sess, cookie := e.login(t)
			if tt.connection != "" {
				u.Connection = tt.connection
				if err := e.st.UpdateUser(t.Context(), u); err != nil {
					t.Fatal(err)
				}
			}
			r := e.get(t, "/v2/logout", tt.params, cookie)
			if r.status != http.StatusFound || r.header.Get("Location") != tt.want {
				t.Fatalf("got %d to %q, want a redirect to %q", r.status, r.header.Get("Location"), tt.want)
			}
			if _, err := e.st.GetSession(t.Context(), sess.ID, e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the local session is not ended: %v", err)
			}
		})
	}
	// A refused returnTo is refused before anything federated happens.
	_, _, cookie := e.login(t)
	if r := e.get(t, "/v2/logout", url.Values{"federated": {""}, "returnTo": {"https://evil.example/"}}, cookie); r.status != http.StatusBadRequest {
		t.Errorf("federated logout with a refused returnTo: %d %q", r.status, r.header.Get("Location"))
	}
}
