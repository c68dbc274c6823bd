package main

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"
)

// mgmtClient calls /api/v2 with a client_credentials token of a new m2m
// application granted the scopes.
func mgmtClient(t *testing.T, g *gatehouse, scopes string) func(method, path string, body any, want int, out any) {
	audience := g.issuer + "/api/v2/"
	id, secret := g.m2mApp(audience, scopes)
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: g.issuer + "/oauth/token",
		EndpointParams: url.Values{"audience": {audience}}}
	client := cfg.Client(t.Context())
	return func(method, path string, body any, want int, out any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, g.issuer+"/api/v2"+path, rd)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %s: %v", method, path, b, err)
			}
		}
	}
}

// hiddenFields returns the hidden inputs of a page that has a form.
func hiddenFields(t *testing.T, p page) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" || v.Get("ticket") == "" {
		t.Fatalf("page %s (status %d) has no ticket form:\n%.1000s", p.url, p.status, p.body)
	}
	return v
}

// TestEndToEndTickets: tickets made through /api/v2 open the hosted
// pages, which set the password or verify the address and then send the
// browser to the ticket's result URL.
func TestEndToEndTickets(t *testing.T) {
	g := startGatehouse(t, nil)
	call := mgmtClient(t, g, "create:user_tickets")
	userID := g.user(userEmail, userPass)

	const done = "https://app.example/after"
	var ticket struct {
		Ticket string `json:"ticket"`
	}
	call("POST", "/tickets/password-change", map[string]any{"user_id": userID, "result_url": done + "?step=reset"}, 201, &ticket)
	if !strings.HasPrefix(ticket.Ticket, g.issuer+"/u/reset-password?ticket=") {
		t.Fatalf("ticket %q", ticket.Ticket)
	}
	b := newBrowser(t, g.issuer)
	p := b.get(ticket.Ticket)
	if p.status != 200 {
		t.Fatalf("reset page: %d %.500s", p.status, p.body)
	}
	form := hiddenFields(t, p)
	const newPass = "an entirely new passphrase"
	form.Set("password", newPass)
	p = b.post(g.issuer+"/u/reset-password", form)
	if p.location != done+"?step=reset" {
		t.Fatalf("after the reset: %d to %q, want %s", p.status, p.location, done)
	}
	// The link is used up; the new password logs in.
	if p := newBrowser(t, g.issuer).get(ticket.Ticket); p.status != http.StatusGone {
		t.Errorf("the ticket again: %d", p.status)
	}
	id, secret := g.app(rpCallback)
	r := newRP(t, g, id, secret)
	u, _ := r.authURL()
	other := newBrowser(t, g.issuer)
	p = other.login(other.get(u), userEmail, newPass)
	if p.url != nil && strings.HasPrefix(p.url.Path, "/u/consent") {
		p = other.consent(p, "accept")
	}
	if q := callbackParams(t, p, rpCallback); q.Get("code") == "" {
		t.Fatalf("login with the new password: %v", q)
	}
	// Handed out, not mailed: the reset did not verify the address.
	out, _, _ := g.cli("", "users", "show", userID)
	if !strings.Contains(out, `"email_verified": false`) {
		t.Errorf("users show after the reset:\n%s", out)
	}

	call("POST", "/tickets/email-verification", map[string]any{"user_id": userID, "result_url": done,
		"includeEmailInRedirect": true}, 201, &ticket)
	p = b.get(ticket.Ticket)
	p = b.post(g.issuer+"/u/verify-email", hiddenFields(t, p))
	if want := done + "?email=" + url.QueryEscape(userEmail); p.location != want {
		t.Fatalf("after verification: %d to %q, want %s", p.status, p.location, want)
	}
	out, _, _ = g.cli("", "users", "show", userID)
	if !strings.Contains(out, `"email_verified": true`) {
		t.Errorf("users show after verification:\n%s", out)
	}
}

// TestEndToEndOrganizationsAndConnections: an organization, its members
// and connections set up through /api/v2 are what the CLI shows, and the
// signing keys rotate through the API as through the CLI.
func TestEndToEndOrganizationsAndConnections(t *testing.T) {
	g := startGatehouse(t, nil)
	call := mgmtClient(t, g, "create:organizations read:organizations create:organization_members read:organization_members "+
		"create:organization_connections read:connections update:connections read:signing_keys")
	userID := g.user(userEmail, userPass)
	appID, _ := g.app(rpCallback)

	var org struct {
		ID string `json:"id"`
	}
	call("POST", "/organizations", map[string]any{"name": "acme", "display_name": "Acme",
		"enabled_connections": []map[string]any{{"connection_id": "Username-Password-Authentication", "assign_membership_on_login": true}}}, 201, &org)
	call("POST", "/organizations/"+org.ID+"/members", map[string]any{"members": []string{userID}}, 204, nil)
	var members []struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
	}
	call("GET", "/organizations/"+org.ID+"/members", nil, 200, &members)
	if len(members) != 1 || members[0].UserID != userID || members[0].Email != userEmail {
		t.Fatalf("members %+v", members)
	}
	out, errOut, code := g.cli("", "orgs", "show", "acme")
	if code != 0 || !strings.Contains(out, userID) || !strings.Contains(out, "Username-Password-Authentication") {
		t.Fatalf("orgs show: %d %s %s", code, out, errOut)
	}

	// The database connection's applications, replaced through the API.
	var conn struct {
		Strategy       string   `json:"strategy"`
		EnabledClients []string `json:"enabled_clients"`
	}
	call("PATCH", "/connections/Username-Password-Authentication", map[string]any{"enabled_clients": []string{appID}}, 200, &conn)
	if conn.Strategy != "auth0" || len(conn.EnabledClients) != 1 || conn.EnabledClients[0] != appID {
		t.Fatalf("connection %+v", conn)
	}
	out, _, _ = g.cli("", "connections", "show", "Username-Password-Authentication")
	if !strings.Contains(out, appID) {
		t.Errorf("connections show lacks %s:\n%s", appID, out)
	}

	var keys []struct {
		KID     string `json:"kid"`
		Current bool   `json:"current"`
	}
	call("GET", "/keys/signing", nil, 200, &keys)
	listed, _, _ := g.cli("", "keys", "list")
	for _, k := range keys {
		if !strings.Contains(listed, k.KID) {
			t.Errorf("keys list lacks %s:\n%s", k.KID, listed)
		}
	}
}
