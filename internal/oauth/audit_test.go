package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/audit"
	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// auditEvents flushes the provider's audit writer and returns the events
// stored after the seq, checking that none holds one of the secrets.
func (e *env) auditEvents(t *testing.T, after int64, secrets ...string) []store.LogEvent {
	t.Helper()
	if err := e.audit.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, err := e.st.ReadLogs(t.Context(), after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		b, _ := json.Marshal(audit.FromStore(ev))
		for _, s := range secrets {
			if s != "" && strings.Contains(string(b), s) {
				t.Errorf("event %s holds a secret: %s", ev.Type, b)
			}
		}
	}
	return events
}

func eventTypes(events []store.LogEvent) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Type
	}
	return out
}

// TestAuditCodeAndRefresh: exchanges of codes and refresh tokens record
// their success and failure events, without the codes, tokens or secrets.
func TestAuditCodeAndRefresh(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{Name: "Audited app", FirstParty: true, AllowOfflineAccess: true})
	user, _, cookie := e.login(t)
	code := e.code(t, app, cookie, url.Values{"scope": {"openid offline_access"}})
	tr := e.exchange(t, app, code, nil)
	replay := e.tokenReq(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {app.Callbacks[0]},
		"client_id": {app.ID}, "client_secret": {app.Secret}}, nil)
	checkError(t, replay, http.StatusBadRequest, "invalid_grant")
	wrongSecret := e.tokenReq(t, url.Values{"grant_type": {"authorization_code"}, "code": {"whatever"}, "redirect_uri": {app.Callbacks[0]},
		"client_id": {app.ID}, "client_secret": {"not-the-secret"}}, nil)
	checkError(t, wrongSecret, http.StatusUnauthorized, "invalid_client")

	code2 := e.code(t, app, cookie, url.Values{"scope": {"openid offline_access"}})
	tr2 := e.exchange(t, app, code2, nil)
	refreshed := e.refresh(t, app, tr2.RefreshToken)
	if refreshed.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", refreshed.status, refreshed.body)
	}
	checkError(t, e.refresh(t, app, "no-such-token"), http.StatusBadRequest, "invalid_grant")
	// A grant Gatehouse does not offer is not recorded.
	e.tokenReq(t, url.Values{"grant_type": {"password"}, "client_id": {app.ID}, "client_secret": {app.Secret}}, nil)

	events := e.auditEvents(t, 0, code, code2, tr.AccessToken, tr.RefreshToken, tr.IDToken, tr2.RefreshToken, app.Secret, "not-the-secret", "no-such-token")
	want := []string{"seacft", "feacft", "feacft", "seacft", "sertft", "fertft"}
	if got := eventTypes(events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	ok := events[0]
	if ok.ClientID != app.ID || ok.ClientName != "Audited app" || ok.UserID != user.ID || ok.Scope != tr.Scope ||
		ok.IP != "127.0.0.1" || ok.UserAgent == "" {
		t.Errorf("seacft: %+v", ok)
	}
	if r := events[1]; r.ClientID != app.ID || r.Details["error"] != "invalid_grant" || r.Description != "the authorization code was already used" {
		t.Errorf("feacft replay: %+v", r)
	}
	// An unauthenticated request names its client, unconfirmed: no name.
	if w := events[2]; w.ClientID != app.ID || w.ClientName != "" || w.Details["error"] != "invalid_client" {
		t.Errorf("feacft wrong secret: %+v", w)
	}
	if r := events[4]; r.UserID != user.ID || r.ClientID != app.ID {
		t.Errorf("sertft: %+v", r)
	}
	if f := events[5]; f.Details["error"] != "invalid_grant" || f.UserID != "" {
		t.Errorf("fertft: %+v", f)
	}
}

// TestAuditClientCredentials: seccft names the API and scopes; feccft the
// refusal.
func TestAuditClientCredentials(t *testing.T) {
	e := newCCEnv(t)
	r := e.tokenReq(t, cc(e.two, "audience", e.api.Identifier), nil)
	if r.status != http.StatusOK {
		t.Fatalf("client credentials: %d %s", r.status, r.body)
	}
	var tr tokenResult
	_ = json.Unmarshal(r.body, &tr)
	e.tokenReq(t, cc(e.one, "audience", e.api.Identifier), nil)
	events := e.auditEvents(t, 0, tr.AccessToken, e.two.Secret, e.one.Secret)
	if got := eventTypes(events); !slices.Equal(got, []string{"seccft", "feccft"}) {
		t.Fatalf("events %v", got)
	}
	if s := events[0]; s.ClientID != e.two.ID || s.Audience != e.api.Identifier || s.Scope != "write:things read:things" || s.UserID != "" {
		t.Errorf("seccft: %+v", s)
	}
	if f := events[1]; f.ClientID != e.one.ID || f.Details["error"] != "access_denied" {
		t.Errorf("feccft: %+v", f)
	}
}

// TestAuditLogout: a logout that ends a session records slo for its user.
func TestAuditLogout(t *testing.T) {
	e := newEnv(t)
	app := e.newClient(t, oauth.NewClientParams{Name: "Audited app", FirstParty: true, LogoutURLs: []string{logoutURL}})
	user, _, cookie := e.login(t)
	tr := e.exchange(t, app, e.code(t, app, cookie, nil), nil)
	before := e.auditEvents(t, 0)
	r := e.get(t, "/oidc/logout", url.Values{"id_token_hint": {tr.IDToken}, "post_logout_redirect_uri": {logoutURL}}, cookie)
	if r.status != http.StatusFound {
		t.Fatalf("logout: %d", r.status)
	}
	// Without a session, nothing ends and nothing is recorded.
	e.get(t, "/v2/logout", nil, nil)
	events := e.auditEvents(t, before[len(before)-1].Seq, tr.IDToken)
	if got := eventTypes(events); !slices.Equal(got, []string{"slo"}) {
		t.Fatalf("events %v", got)
	}
	if s := events[0]; s.UserID != user.ID || s.UserName != user.Email || s.ClientID != app.ID || s.ClientName != "Audited app" {
		t.Errorf("slo: %+v", s)
	}
}
