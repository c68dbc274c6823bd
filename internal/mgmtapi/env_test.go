package mgmtapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"gatehouse/internal/audit"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/mgmtapi"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// env is the management API over a real SQLite store and real signing
// keys, served by httptest. Tokens are signed by the server's own keys
// with the claims client_credentials puts in them.
type env struct {
	st     store.Store
	svc    *mgmt.Service
	keys   *token.Keys
	api    *mgmtapi.API
	srv    *httptest.Server
	issuer string
	router routers.Router // of the OpenAPI document, made at first use
	// unchecked skips the OpenAPI check of answers (benchmarks).
	unchecked bool
	audit     *audit.Writer // records the API's operations into st
}

// newEnv builds the env; opts change the service's configuration first.
func newEnv(t testing.TB, opts ...func(*mgmt.Config)) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sealer, err := token.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeys(st, sealer, token.KeyOptions{Algorithm: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Init(ctx); err != nil {
		t.Fatal(err)
	}
	// Cheap argon2id parameters: the tests hash many passwords.
	db, err := database.Open(database.Config{Store: st, Params: database.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, keys: keys}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.issuer = e.srv.URL
	mc := mgmt.Config{Store: st, Sealer: sealer, Keys: keys, Issuer: e.issuer, Passwords: db, Signing: keys}
	for _, o := range opts {
		o(&mc)
	}
	e.svc, err = mgmt.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnsureManagementAPI(ctx); err != nil {
		t.Fatal(err)
	}
	if e.audit, err = audit.NewWriter(audit.WriterConfig{Store: st}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.audit.Close(context.Background()) })
	e.api, err = mgmtapi.New(mgmtapi.Config{Service: e.svc, Tokens: keys, Issuer: e.issuer, Audit: e.audit})
	if err != nil {
		t.Fatal(err)
	}
	e.api.Mount(mux)
	return e
}

// token returns a management API token of the application "m2m-app" with
// the scopes.
func (e *env) token(t testing.TB, scopes ...string) string {
	return e.tokenWith(t, map[string]any{"scope": strings.Join(scopes, " ")})
}

// tokenWith returns a token whose claims are the client_credentials
// claims with over's values in place (nil deletes a claim).
func (e *env) tokenWith(t testing.TB, over map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": e.issuer, "sub": "m2m-app@clients", "aud": store.ManagementAudience(e.issuer),
		"client_id": "m2m-app", "gty": "client-credentials", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "jti": "j1", "scope": "",
	}
	for k, v := range over {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	tok, err := e.keys.Sign(t.Context(), claims, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// all is every scope of the management API.
var all = mgmt.ManagementScopeNames()

// do sends a request with a JSON body (a string is sent as it is) and the
// bearer token, and returns the status and body.
func (e *env) do(t testing.TB, method, path string, body any, tok string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !e.unchecked {
		e.checkAgainstOpenAPI(t, req, resp, b)
	}
	return resp.StatusCode, b
}

// checkAgainstOpenAPI checks every answer of a documented route against
// the API's own OpenAPI document: its status is documented, and its body
// matches that status's schema. So the document is true of every answer
// the tests see.
func (e *env) checkAgainstOpenAPI(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if e.router == nil {
		doc, err := openapi3.NewLoader().LoadFromData(e.openAPIDocument(t))
		if err != nil {
			t.Fatalf("load the OpenAPI document: %v", err)
		}
		if e.router, err = legacy.NewRouter(doc); err != nil {
			t.Fatalf("OpenAPI router: %v", err)
		}
	}
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		// Unknown routes answer 404 or 405; those are checked by their tests.
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s answered %d but is not in the OpenAPI document", req.Method, req.URL.Path, resp.StatusCode)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(t.Context(), in); err != nil {
		t.Errorf("%s %s: the answer %d does not match the OpenAPI document: %v\nbody: %.500s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}

// openAPIDocument fetches the served document (no token needed).
func (e *env) openAPIDocument(t testing.TB) []byte {
	t.Helper()
	resp, err := http.Get(e.srv.URL + mgmtapi.OpenAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", mgmtapi.OpenAPIPath, resp.StatusCode, err)
	}
	return b
}

// call is do with a token holding every scope; it fails the test unless
// the status is want, and decodes the body into out (when not nil).
func (e *env) call(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	status, b := e.do(t, method, path, body, e.token(t, all...))
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// apiError is the error body.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	ErrorCode  string `json:"errorCode"`
}

// wantError checks an error answer: status, the body's shape, and that
// the message contains msg.
func wantError(t *testing.T, status int, body []byte, wantStatus int, msg string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if status != wantStatus || e.StatusCode != wantStatus || e.Error != http.StatusText(wantStatus) {
		t.Fatalf("status %d, body %s; want %d", status, body, wantStatus)
	}
	if !strings.Contains(e.Message, msg) {
		t.Fatalf("message %q does not contain %q", e.Message, msg)
	}
}

const hour = time.Hour

func timeNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
