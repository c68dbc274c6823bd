package mgmtapi_test

import (
	"slices"
	"testing"
)

type oidcLogoutOut struct {
	OIDCLogout struct {
		BackchannelLogoutURLs []string `json:"backchannel_logout_urls"`
	} `json:"oidc_logout"`
}

func TestClientBackchannelLogoutURLs(t *testing.T) {
	e := newEnv(t)
	var c struct {
		ClientID string `json:"client_id"`
		oidcLogoutOut
	}
	e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "RP", "callbacks": []string{"https://rp.example/cb"},
		"oidc_logout": map[string]any{"backchannel_logout_urls": []string{"https://rp.example/bc"}}}, 201, &c)
	if !slices.Equal(c.OIDCLogout.BackchannelLogoutURLs, []string{"https://rp.example/bc"}) {
		t.Fatalf("created with %v", c.OIDCLogout.BackchannelLogoutURLs)
	}
	stored, err := e.st.GetClient(t.Context(), c.ClientID)
	if err != nil || stored.BackchannelLogoutURI != "https://rp.example/bc" {
		t.Fatalf("stored %q, %v", stored.BackchannelLogoutURI, err)
	}
	// The older name is accepted too.
	var got oidcLogoutOut
	e.call(t, "PATCH", "/api/v2/clients/"+c.ClientID, map[string]any{
		"oidc_backchannel_logout": map[string]any{"backchannel_logout_urls": []string{"https://rp.example/bc2"}}}, 200, &got)
	if !slices.Equal(got.OIDCLogout.BackchannelLogoutURLs, []string{"https://rp.example/bc2"}) {
		t.Fatalf("patched with the older name: %v", got.OIDCLogout.BackchannelLogoutURLs)
	}
	// A PATCH without it keeps it.
	got = oidcLogoutOut{}
	e.call(t, "PATCH", "/api/v2/clients/"+c.ClientID, map[string]any{"name": "RP 2"}, 200, &got)
	if !slices.Equal(got.OIDCLogout.BackchannelLogoutURLs, []string{"https://rp.example/bc2"}) {
		t.Fatalf("kept: %v", got.OIDCLogout.BackchannelLogoutURLs)
	}
	// An empty list turns it off, and the field is always shown.
	got = oidcLogoutOut{}
	e.call(t, "PATCH", "/api/v2/clients/"+c.ClientID, map[string]any{"oidc_logout": map[string]any{"backchannel_logout_urls": []string{}}}, 200, &got)
	if got.OIDCLogout.BackchannelLogoutURLs == nil || len(got.OIDCLogout.BackchannelLogoutURLs) != 0 {
		t.Fatalf("turned off: %v", got.OIDCLogout.BackchannelLogoutURLs)
	}

	tests := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"two URLs", map[string]any{"oidc_logout": map[string]any{"backchannel_logout_urls": []string{"https://a.example/bc", "https://b.example/bc"}}}, "takes one URL"},
		{"empty URL", map[string]any{"oidc_logout": map[string]any{"backchannel_logout_urls": []string{""}}}, "empty URL"},
		{"both names", map[string]any{"oidc_logout": map[string]any{}, "oidc_backchannel_logout": map[string]any{}}, "not both"},
		{"http", map[string]any{"oidc_logout": map[string]any{"backchannel_logout_urls": []string{"http://rp.example/bc"}}}, "use https"},
		{"unknown field", map[string]any{"oidc_logout": map[string]any{"frontchannel": true}}, "frontchannel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "PATCH", "/api/v2/clients/"+c.ClientID, tt.body, e.token(t, "update:clients"))
			wantError(t, status, body, 400, tt.msg)
		})
	}
}
