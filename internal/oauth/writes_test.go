package oauth_test

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/authflow"
	"gatehouse/internal/oauth"
)

// TestWritesPerStep checks how many store writes each step of a flow costs:
// one per request on the hot paths, none for an error sent to the client.
func TestWritesPerStep(t *testing.T) {
	e := newEnv(t)
	c := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	_, _, cookie := e.login(t)
	want := func(step string, wantCalls map[string]int) {
		t.Helper()
		if got := e.writes.take(); !maps.Equal(got, wantCalls) {
			t.Errorf("%s: store writes %v, want %v", step, got, wantCalls)
		}
	}
	e.writes.take()

	// A session that needs no page gets its code without a stored request.
	code := e.code(t, c, cookie, url.Values{"scope": {"openid profile offline_access"}})
	want("authorize with a session", map[string]int{"CreateCode": 1})

	// The redemption stores the access and refresh tokens with it.
	tr := e.exchange(t, c, code, nil)
	want("code exchange", map[string]int{"RedeemCode": 1})
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.IDToken == "" {
		t.Fatalf("code exchange: missing tokens in %+v", tr)
	}
	e.wantUserinfo(t, tr.AccessToken)

	// The rotation stores the new access token with it.
	r := e.refresh(t, c, tr.RefreshToken)
	want("refresh", map[string]int{"RotateRefresh": 1})
	if r.status != http.StatusOK {
		t.Fatalf("refresh: status %d, body %s", r.status, r.body)
	}
	refreshed := decodeJSON(t, r)
	e.wantUserinfo(t, refreshed["access_token"].(string))

	// A page needs the stored request; an error for the client needs none.
	third := e.newClient(t, oauth.NewClientParams{})
	resp := e.get(t, "/authorize", authQuery(third), cookie)
	if loc := resp.header.Get("Location"); resp.status != http.StatusFound || !strings.HasPrefix(loc, authflow.ConsentPath) {
		t.Fatalf("authorize without consent: status %d, Location %q", resp.status, loc)
	}
	want("authorize needing consent", map[string]int{"CreateAuthRequest": 1})
	q := authQuery(third)
	q.Set("prompt", "none")
	resp = e.get(t, "/authorize", q, cookie)
	if got := location(t, resp).Query().Get("error"); got != "consent_required" {
		t.Fatalf("prompt=none without consent: error %q, want consent_required", got)
	}
	want("prompt=none without consent", map[string]int{})
	resp = e.get(t, "/authorize", authQuery(c), nil)
	if loc := resp.header.Get("Location"); !strings.HasPrefix(loc, authflow.LoginPath) {
		t.Fatalf("authorize without a session: Location %q, want the login page", loc)
	}
	want("authorize without a session", map[string]int{"CreateAuthRequest": 1})
}

// wantUserinfo fails unless /userinfo accepts the access token.
func (e *env) wantUserinfo(t *testing.T, accessToken string) {
	t.Helper()
	req := e.newRequest(t, http.MethodGet, "/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if r := e.do(t, req); r.status != http.StatusOK {
		t.Fatalf("userinfo: status %d, body %s", r.status, r.body)
	}
}
