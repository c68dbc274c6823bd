package mgmtapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	idToken, err := e.keys.Sign(t.Context(), map[string]any{"iss": e.issuer, "sub": "m2m-app@clients",
		"aud": e.issuer + "/api/v2/", "exp": time.Now().Add(time.Hour).Unix(), "scope": "read:users"}, "JWT")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header string
		status int
		msg    string
	}{
		{"no token", "", 401, "Missing authentication"},
		{"not bearer", "Basic Zm9vOmJhcg==", 401, "Missing authentication"},
		{"garbage", "Bearer not-a-token", 401, "Invalid token"},
		{"an ID token (typ JWT)", "Bearer " + idToken, 401, "Invalid token"},
		{"expired", "Bearer " + e.tokenWith(t, map[string]any{"exp": time.Now().Add(-time.Minute).Unix(), "scope": "read:users"}), 401, "Invalid token"},
		{"another issuer", "Bearer " + e.tokenWith(t, map[string]any{"iss": "https://elsewhere.example", "scope": "read:users"}), 401, "Invalid token"},
		{"wrong audience", "Bearer " + e.tokenWith(t, map[string]any{"aud": "https://api.example", "scope": "read:users"}), 401, "Bad audience"},
		{"a user's token", "Bearer " + e.tokenWith(t, map[string]any{"sub": "gatehouse|abc", "scope": "read:users"}), 403, "client_credentials only"},
		{"missing scope", "Bearer " + e.token(t, "read:clients", "create:users"), 403, "Insufficient scope, expected any of: read:users"},
		{"no scope at all", "Bearer " + e.token(t), 403, "Insufficient scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/api/v2/users", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body apiError
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || body.StatusCode != tt.status || !strings.Contains(body.Message, tt.msg) {
				t.Fatalf("got %d %+v, want %d %q", resp.StatusCode, body, tt.status, tt.msg)
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// The right scope passes.
	status, body := e.do(t, "GET", "/api/v2/users", nil, e.token(t, "read:users"))
	if status != 200 {
		t.Fatalf("with read:users: %d %s", status, body)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, all...)
	status, body := e.do(t, "GET", "/api/v2/nothing-here", nil, tok)
	wantError(t, status, body, 404, "Not Found")
	status, body = e.do(t, "PUT", "/api/v2/users", nil, tok)
	wantError(t, status, body, 405, "PUT is not allowed")
}

func TestRequestBodies(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, all...)
	tests := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"unknown field", `{"connection":"Username-Password-Authentication","email":"a@example.com","favourite_colour":"red"}`, 400, "Additional properties not allowed: favourite_colour"},
		{"wrong type", `{"connection":"Username-Password-Authentication","email":42}`, 400, "Expected type string but found type number' on property email"},
		{"not JSON", `{"email":`, 400, "invalid JSON"},
		{"empty", ``, 400, "a JSON object is required"},
		{"an array", `[]`, 400, "a JSON object is required"},
		{"two objects", `{} {}`, 400, "one JSON object is expected"},
		{"too large", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "Payload too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "POST", "/api/v2/users", tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	// Not JSON at all.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/api/v2/users", strings.NewReader("email=a"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("form body: %d, want 415", resp.StatusCode)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t)
	for i := range 7 {
		e.call(t, "POST", "/api/v2/users", map[string]any{"connection": "Username-Password-Authentication",
			"email": "user" + string(rune('a'+i)) + "@example.com"}, 201, nil)
	}
	var page struct {
		Start, Limit, Length, Total int
		Users                       []map[string]any
	}
	e.call(t, "GET", "/api/v2/users?page=1&per_page=3&include_totals=true", nil, 200, &page)
	if page.Start != 3 || page.Limit != 3 || page.Length != 3 || page.Total != 7 || len(page.Users) != 3 {
		t.Fatalf("page 1: %+v", page)
	}
	e.call(t, "GET", "/api/v2/users?page=2&per_page=3&include_totals=true", nil, 200, &page)
	if page.Length != 1 || page.Total != 7 {
		t.Fatalf("last page: %+v", page)
	}
	var bare []map[string]any
	e.call(t, "GET", "/api/v2/users?page=9&per_page=3", nil, 200, &bare)
	if bare == nil || len(bare) != 0 {
		t.Fatalf("past the end: %v, want []", bare)
	}
	e.call(t, "GET", "/api/v2/users", nil, 200, &bare)
	if len(bare) != 7 {
		t.Fatalf("default page: %d users", len(bare))
	}
	tok := e.token(t, all...)
	for _, q := range []string{"per_page=0", "per_page=101", "per_page=x", "page=-1", "include_totals=maybe", "colour=red"} {
		status, body := e.do(t, "GET", "/api/v2/users?"+q, nil, tok)
		wantError(t, status, body, 400, "Query validation error")
	}
	// The largest page is allowed.
	e.call(t, "GET", "/api/v2/users?per_page=100", nil, 200, &bare)
}
