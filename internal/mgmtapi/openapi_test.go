package mgmtapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestOpenAPIDocument: the served document is valid OpenAPI 3.1, and it
// describes exactly the routes the API serves, with their scopes.
func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	raw := e.openAPIDocument(t)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("the document is not valid: %v", err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != e.issuer+"/api/v2" {
		t.Errorf("servers: %+v", doc.Servers)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = true
			if op.Security == nil || len(*op.Security) != 1 {
				t.Errorf("%s %s: no security requirement", method, path)
			}
		}
	}
	routes := e.api.Routes()
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		if !documented[key] {
			t.Errorf("route %s is not documented", key)
		}
		delete(documented, key)
		op := doc.Paths.Find(rt.Path).GetOperation(rt.Method)
		if got := (*op.Security)[0]["bearer"]; strings.Join(got, " ") != strings.Join(rt.Scopes, " ") {
			t.Errorf("%s: documented scopes %v, route needs %v", key, got, rt.Scopes)
		}
	}
	for key := range documented {
		t.Errorf("documented %s is not a route", key)
	}
	if len(routes) < 20 {
		t.Errorf("only %d routes", len(routes))
	}
	// The document is strict enough to catch a wrong answer: a user whose
	// email_verified is a string, an undocumented status.
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", e.issuer+"/api/v2/users/x", nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		status int
		body   any
		ok     bool
	}{
		{200, map[string]any{"user_id": "a|b", "email_verified": true, "identities": []any{}}, true},
		{200, map[string]any{"user_id": "a|b", "email_verified": "yes"}, false},
		{200, map[string]any{"user_id": 7}, false},
		{404, map[string]any{"statusCode": 404, "error": "Not Found", "message": "m"}, true},
		{404, map[string]any{"statusCode": "404"}, false},
	} {
		b, _ := json.Marshal(tt.body)
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 tt.status, Header: http.Header{"Content-Type": {"application/json"}},
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		in.SetBodyBytes(b)
		if err := openapi3filter.ValidateResponse(t.Context(), in); (err == nil) != tt.ok {
			t.Errorf("%d %s: validation error %v, want ok=%v", tt.status, b, err, tt.ok)
		}
	}
}
