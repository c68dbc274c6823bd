package oidc_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/connector/oidc"
)

// discoveryOnly is an OpenID provider that serves only its discovery
// document, with the given end_session_endpoint ("" leaves it out).
func discoveryOnly(t *testing.T, endSession func(issuer string) string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		d := map[string]any{
			"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize", "token_endpoint": srv.URL + "/token",
			"jwks_uri": srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		}
		if e := endSession(srv.URL); e != "" {
			d["end_session_endpoint"] = e
		}
		writeJSON(w, http.StatusOK, d)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLogoutURL(t *testing.T) {
	tests := []struct {
		name       string
		endSession func(issuer string) string
		returnTo   string
		want       func(issuer string) string // "" when none
		wantErr    string
	}{
		{"with returnTo", func(iss string) string { return iss + "/logout" }, "https://app.example/bye",
			func(iss string) string {
				return iss + "/logout?client_id=" + clientID + "&post_logout_redirect_uri=" + url.QueryEscape("https://app.example/bye")
			}, ""},
		{"without returnTo", func(iss string) string { return iss + "/logout" }, "",
			func(iss string) string { return iss + "/logout?client_id=" + clientID }, ""},
		{"endpoint with a query", func(iss string) string { return iss + "/logout?tenant=a" }, "",
			func(iss string) string { return iss + "/logout?client_id=" + clientID + "&tenant=a" }, ""},
		{"no end_session_endpoint", func(string) string { return "" }, "https://app.example/bye",
			func(string) string { return "" }, ""},
		{"plain http endpoint", func(string) string { return "http://idp.example/logout" }, "",
			nil, "must use https"},
		{"relative endpoint", func(string) string { return "/logout" }, "",
			nil, "not an absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := discoveryOnly(t, tt.endSession)
			c, err := oidc.Open(t.Context(), oidc.Config{Name: "corp", Issuer: srv.URL, ClientID: clientID, ClientSecret: clientSecret})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			got, err := c.LogoutURL(tt.returnTo)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LogoutURL: %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want(srv.URL) {
				t.Errorf("LogoutURL = %q, %v; want %q", got, err, tt.want(srv.URL))
			}
		})
	}
}
