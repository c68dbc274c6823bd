package mgmtapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzRoute is a route of the management API that reads a body.
type fuzzRoute struct {
	method, path string
	// contentType is the body's type; empty means application/json.
	contentType string
}

// FuzzJSONBodies sends arbitrary bodies, with a token holding every scope,
// to every /api/v2 route that reads one, through the real handlers over a
// real SQLite store (called directly, so that a panic reaches the
// fuzzer). Every success must be one the OpenAPI document describes, and
// an error must be the hosted service's shape ({"statusCode", "error",
// "message", "errorCode"}) with a 4xx status: the store is up, so a 5xx is
// a bug for some input. Under plain go test the seeds run as ordinary
// tests; .ci/fuzz runs the target with -fuzz for a short time.
func FuzzJSONBodies(f *testing.F) {
	e, _ := newJobsEnv(f, 1<<20)
	tok := e.token(f, all...)
	id := func(path, field string, body any) string {
		status, b := e.do(f, "POST", path, body, tok)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		s, _ := out[field].(string)
		if status >= 300 || s == "" {
			f.Fatalf("POST %s: %d %s", path, status, b)
		}
		return s
	}
	user := id("/api/v2/users", "user_id", map[string]any{"connection": dbConn, "email": "ada@example.com", "password": "a long enough password"})
	client := id("/api/v2/clients", "client_id", map[string]any{"name": "App", "app_type": "non_interactive"})
	rs := id("/api/v2/resource-servers", "id", map[string]any{"name": "API", "identifier": "https://api.example", "scopes": []map[string]string{{"value": "read:x"}}})
	role := id("/api/v2/roles", "id", map[string]any{"name": "admin"})
	org := id("/api/v2/organizations", "id", map[string]any{"name": "acme"})
	grant := id("/api/v2/client-grants", "id", map[string]any{"client_id": client, "audience": "https://api.example", "scope": []string{"read:x"}})
	var conns []map[string]any
	if status, b := e.do(f, "GET", "/api/v2/connections", nil, tok); status != 200 || json.Unmarshal(b, &conns) != nil || len(conns) == 0 {
		f.Fatalf("GET connections: %d %s", status, b)
	}
	conn, _ := conns[0]["id"].(string)

	routes := []fuzzRoute{
		{method: "POST", path: "/api/v2/users"},
		{method: "PATCH", path: "/api/v2/users/" + user},
		{method: "POST", path: "/api/v2/users/" + user + "/identities"},
		{method: "POST", path: "/api/v2/users/" + user + "/roles"},
		{method: "POST", path: "/api/v2/users/" + user + "/permissions"},
		{method: "POST", path: "/api/v2/clients"},
		{method: "PATCH", path: "/api/v2/clients/" + client},
		{method: "POST", path: "/api/v2/client-grants"},
		{method: "PATCH", path: "/api/v2/client-grants/" + grant},
		{method: "POST", path: "/api/v2/connections"},
		{method: "PATCH", path: "/api/v2/connections/" + conn},
		{method: "PATCH", path: "/api/v2/connections/" + conn + "/clients"},
		{method: "POST", path: "/api/v2/resource-servers"},
		{method: "PATCH", path: "/api/v2/resource-servers/" + rs},
		{method: "POST", path: "/api/v2/roles"},
		{method: "PATCH", path: "/api/v2/roles/" + role},
		{method: "POST", path: "/api/v2/roles/" + role + "/permissions"},
		{method: "POST", path: "/api/v2/roles/" + role + "/users"},
		{method: "POST", path: "/api/v2/organizations"},
		{method: "PATCH", path: "/api/v2/organizations/" + org},
		{method: "POST", path: "/api/v2/organizations/" + org + "/members"},
		{method: "POST", path: "/api/v2/organizations/" + org + "/members/" + user + "/roles"},
		{method: "POST", path: "/api/v2/organizations/" + org + "/invitations"},
		{method: "POST", path: "/api/v2/organizations/" + org + "/enabled_connections"},
		{method: "PATCH", path: "/api/v2/organizations/" + org + "/enabled_connections/" + conn},
		{method: "POST", path: "/api/v2/tickets/password-change"},
		{method: "POST", path: "/api/v2/tickets/email-verification"},
		{method: "POST", path: "/api/v2/jobs/users-exports"},
		{method: "POST", path: "/api/v2/jobs/users-imports", contentType: "multipart/form-data; boundary=XX"},
	}
	part := func(name, value string) string {
		return "--XX\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	for i, body := range []string{
		`{"connection":"` + dbConn + `","email":"b@example.com","password":"a long enough password","user_metadata":{"a":1},"app_metadata":{"b":[1,2]}}`,
		`{"email":"c@example.com","blocked":true,"email_verified":"yes","user_metadata":{"a":null}}`,
		`{"provider":"auth0","user_id":"` + user + `"}`,
		`{"roles":["` + role + `"]}`,
		`{"permissions":[{"resource_server_identifier":"https://api.example","permission_name":"read:x"}]}`,
		`{"name":"Other","app_type":"spa","callbacks":["https://a.example/cb"],"grant_types":["authorization_code"]}`,
		`{"name":"","jwt_configuration":{"alg":"none"},"client_authentication_methods":{"private_key_jwt":{"credentials":[{"pem":"x"}]}}}`,
		`{"client_id":"` + client + `","audience":"https://api.example","scope":["read:x"]}`,
		`{"scope":["read:x","nope"]}`,
		`{"name":"gh","strategy":"github","options":{"client_id":"x","client_secret":"y"}}`,
		`{"options":{"passwordPolicy":"good","password_complexity_options":{"min_length":-1}}}`,
		`[{"client_id":"` + client + `","status":true}]`,
		`{"name":"API 2","identifier":"urn:api2","scopes":[{"value":"w"}],"token_lifetime":-5,"signing_alg":"HS256"}`,
		`{"token_lifetime":1e309}`,
		`{"name":"r2","description":"` + strings.Repeat("d", 300) + `"}`,
		`{"users":["` + user + `","nope"]}`,
		`{"members":["` + user + `"]}`,
		`{"inviter":{"name":"A"},"invitee":{"email":"i@example.com"},"client_id":"` + client + `","ttl_sec":-1}`,
		`{"connection_id":"` + conn + `","assign_membership_on_login":true}`,
		`{"user_id":"` + user + `","result_url":"javascript:alert(1)","ttl_sec":99999999999}`,
		`{"connection_id":"` + conn + `","format":"csv","fields":[{"name":"email","export_as":"e"}],"limit":-1}`,
		part("connection_id", conn) + part("upsert", "true") + "--XX\r\nContent-Disposition: form-data; name=\"users\"; filename=\"u.json\"\r\nContent-Type: application/json\r\n\r\n[{\"email\":\"imp@example.com\",\"email_verified\":true}]\r\n--XX--\r\n",
		part("connection_id", conn) + "--XX--\r\n",
		`{"a":1}{"b":2}`,
		`null`,
		`[]`,
		`"x"`,
		`{"name":{"nested":[[[[[[[]]]]]]]}}`,
		`{"email":"\ud800"}`,
		``,
	} {
		f.Add(uint8(i), body)
		f.Add(uint8(i+7), body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := routes[int(route)%len(routes)]
		req := httptest.NewRequest(r.method, e.srv.URL+r.path, strings.NewReader(body))
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: status %d for bad input; body %.500s", r.method, r.path, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var got struct {
				StatusCode int    `json:"statusCode"`
				Error      string `json:"error"`
				Message    string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.StatusCode != w.Code || got.Error == "" || got.Message == "" {
				t.Fatalf("%s %s: status %d with body %.500s, want the API's error shape (%v)", r.method, r.path, w.Code, w.Body, err)
			}
		}
		// A success must be what the OpenAPI document describes. (Errors'
		// shape is checked above: validating every answer against the
		// document would cut the executions thirtyfold.)
		if w.Code < 400 {
			e.checkAgainstOpenAPI(t, req, w.Result(), w.Body.Bytes())
		}
	})
}
