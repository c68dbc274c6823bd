package mgmtapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/mgmtapi"
	"gatehouse/internal/store"
)

// newJobsEnv is the env with bulk user jobs, whose users files may be at
// most maxBytes: a second server over the env's store and service, whose
// API has the jobs, with the env's keys. The returned env is that
// server's.
func newJobsEnv(t testing.TB, maxBytes int64) (*env, *mgmt.Jobs) {
	t.Helper()
	base := newEnv(t)
	jobs, err := mgmt.NewJobs(mgmt.JobsConfig{Store: base.st, SpoolDir: t.TempDir(), MaxImportBytes: maxBytes,
		LinkKey: []byte("export links key export links key")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jobs.Close(context.Background()) })
	mux := http.NewServeMux()
	e := *base
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.issuer, e.router = e.srv.URL, nil
	if e.api, err = mgmtapi.New(mgmtapi.Config{Service: e.svc, Tokens: e.keys, Issuer: e.issuer, Audit: e.audit, Jobs: jobs}); err != nil {
		t.Fatal(err)
	}
	e.api.Mount(mux)
	return &e, jobs
}

// formField is one part of a multipart form: a field, or the file when
// file is set.
type formField struct {
	name, value string
	file        bool
}

func multipartBody(t *testing.T, fields ...formField) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		var w io.Writer
		var err error
		if f.file {
			w, err = mw.CreateFormFile(f.name, "users.json")
		} else {
			w, err = mw.CreateFormField(f.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, f.value)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.Bytes()
}

// upload posts a multipart import with the token and returns the status
// and body, checked against the OpenAPI document.
func (e *env) upload(t *testing.T, contentType string, body []byte, tok string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/api/v2/jobs/users-imports", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
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
	e.checkAgainstOpenAPI(t, req, resp, b)
	return resp.StatusCode, b
}

type jobOut struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	Status         string `json:"status"`
	CreatedAt      string `json:"created_at"`
	ConnectionID   string `json:"connection_id"`
	Connection     string `json:"connection"`
	ExternalID     string `json:"external_id"`
	Upsert         *bool  `json:"upsert"`
	Format         string `json:"format"`
	Limit          int    `json:"limit"`
	Location       string `json:"location"`
	PercentageDone *int   `json:"percentage_done"`
	StatusDetails  string `json:"status_details"`
	Fields         []struct {
		Name     string `json:"name"`
		ExportAs string `json:"export_as"`
	} `json:"fields"`
	Summary *struct {
		Total, Inserted, Updated, Failed int
	} `json:"summary"`
}

// waitJob polls GET /jobs/{id} until the job ends.
func (e *env) waitJob(t *testing.T, id string) jobOut {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var j jobOut
		e.call(t, "GET", "/api/v2/jobs/"+id, nil, 200, &j)
		if j.Status == "completed" || j.Status == "failed" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, j.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const importRows = `[
 {"email":"ada@example.com","user_id":"ada","name":"Ada","password_hash":"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
 {"email":"grace@example.com","custom_password_hash":{"algorithm":"sha256","hash":{"value":"7054f76f832d2d4e244f73b3f3f4c3702cb60a573ed12441c90f159df560fcb5","encoding":"hex"},"salt":{"value":"keyboardcat","position":"prefix"}}},
 {"email":"not an email","password_hash":"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
 {"email":"x@example.com","shoe_size":44},
 {"email":"y@example.com","custom_password_hash":{"algorithm":"md5","hash":{"value":"zz","encoding":"hex"}}}
]`

func TestImportJob(t *testing.T) {
	e, _ := newJobsEnv(t, 0)
	// The file comes first, as the hosted service's SDKs send it.
	ct, body := multipartBody(t, formField{name: "users", value: importRows, file: true},
		formField{name: "connection_id", value: dbConn}, formField{name: "upsert", value: "false"},
		formField{name: "external_id", value: "migration-1"}, formField{name: "send_completion_email", value: "false"})
	status, b := e.upload(t, ct, body, e.token(t, "create:users"))
	var j jobOut
	if status != 201 || json.Unmarshal(b, &j) != nil {
		t.Fatalf("POST users-imports: %d %s", status, b)
	}
	if !strings.HasPrefix(j.ID, "job_") || j.Type != "users_import" || j.Status != "pending" || j.ConnectionID != dbConn ||
		j.ExternalID != "migration-1" || j.Summary == nil || j.Summary.Total != 5 || j.CreatedAt == "" {
		t.Errorf("created job %s", b)
	}
	j = e.waitJob(t, j.ID)
	if j.Status != "completed" || *j.Summary != (struct{ Total, Inserted, Updated, Failed int }{5, 2, 0, 3}) || j.Location != "" {
		t.Errorf("finished job %+v", j)
	}

	var errs []struct {
		User   map[string]any `json:"user"`
		Errors []struct {
			Code, Message, Path string
		} `json:"errors"`
	}
	status, b = e.do(t, "GET", "/api/v2/jobs/"+j.ID+"/errors", nil, e.token(t, "read:users"))
	if status != 200 || json.Unmarshal(b, &errs) != nil || len(errs) != 3 {
		t.Fatalf("errors: %d %s", status, b)
	}
	if errs[0].User["email"] != "not an email" || errs[0].Errors[0].Code != "INVALID_FORMAT" || errs[0].Errors[0].Path != "#/email" ||
		errs[1].Errors[0].Code != "OBJECT_ADDITIONAL_PROPERTIES" || errs[2].Errors[0].Code != "INVALID_PASSWORD_HASH" {
		t.Errorf("errors %s", b)
	}
	if bytes.Contains(b, []byte("$2b$")) || bytes.Contains(b, []byte(`password_hash":`)) {
		t.Errorf("the errors hand out a password hash: %s", b)
	}
	// The users are there, and the bcrypt hash of "hello" logs in.
	var u userOut
	e.call(t, "GET", "/api/v2/users/"+url.PathEscape("gatehouse|ada"), nil, 200, &u)
	if u.Email != "ada@example.com" || u.Name != "Ada" {
		t.Errorf("imported user %+v", u)
	}

	// Upsert, with the fields before the file.
	ct, body = multipartBody(t, formField{name: "connection_id", value: dbConn}, formField{name: "upsert", value: "true"},
		formField{name: "users", value: `[{"email":"ada@example.com","name":"Ada Lovelace"}]`, file: true})
	status, b = e.upload(t, ct, body, e.token(t, "create:users"))
	if status != 201 || json.Unmarshal(b, &j) != nil || j.Upsert == nil || !*j.Upsert {
		t.Fatalf("upsert: %d %s", status, b)
	}
	if j = e.waitJob(t, j.ID); j.Summary.Updated != 1 {
		t.Errorf("upsert job %+v", j)
	}
	e.call(t, "GET", "/api/v2/users/"+url.PathEscape("gatehouse|ada"), nil, 200, &u)
	if u.Name != "Ada Lovelace" {
		t.Errorf("upserted user %+v", u)
	}

	// No errors is an empty list.
	status, b = e.do(t, "GET", "/api/v2/jobs/"+j.ID+"/errors", nil, e.token(t, "create:users"))
	if status != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("errors of a clean job: %d %s", status, b)
	}
}

func TestImportJobRefused(t *testing.T) {
	e, _ := newJobsEnv(t, 4096)
	if err := e.st.CreateConnection(t.Context(), store.Connection{Name: "github", Strategy: store.StrategyGitHub, CreatedAt: timeNow(), UpdatedAt: timeNow()}); err != nil {
		t.Fatal(err)
	}
	users := formField{name: "users", value: `[{"email":"a@example.com"}]`, file: true}
	conn := formField{name: "connection_id", value: dbConn}
	tests := []struct {
		name   string
		fields []formField
		ct     string // replaces the multipart content type
		tok    string // "" for one with create:users
		status int
		msg    string
	}{
		{"no token", []formField{users, conn}, "", "-", 401, "Missing authentication"},
		{"read scope only", []formField{users, conn}, "", e.token(t, "read:users"), 403, "Insufficient scope, expected any of: create:users"},
		{"wrong audience", []formField{users, conn}, "", e.tokenWith(t, map[string]any{"aud": "https://api.example", "scope": "create:users"}), 401, "Bad audience"},
		{"json body", nil, "application/json", "", 415, "multipart/form-data"},
		{"no file", []formField{conn}, "", "", 400, "the users file is required"},
		{"no connection", []formField{users}, "", "", 400, "connection_id is required"},
		{"unknown connection", []formField{users, {name: "connection_id", value: "nope"}}, "", "", 404, `connection "nope" not found`},
		{"social connection", []formField{users, {name: "connection_id", value: "github"}}, "", "", 400, "only into a database connection"},
		{"unknown field", []formField{users, conn, {name: "priority", value: "high"}}, "", "", 400, "Additional properties not allowed: priority"},
		{"field twice", []formField{conn, users, conn}, "", "", 400, "connection_id is given twice"},
		{"file twice", []formField{users, conn, users}, "", "", 400, "users is given twice"},
		{"upsert not boolean", []formField{users, conn, {name: "upsert", value: "maybe"}}, "", "", 400, "property upsert"},
		{"completion email", []formField{users, conn, {name: "send_completion_email", value: "true"}}, "", "", 400, "send_completion_email must be false"},
		{"long field", []formField{users, conn, {name: "external_id", value: strings.Repeat("x", 2000)}}, "", "", 400, "longer than 1024 bytes"},
		{"not JSON", []formField{conn, {name: "users", value: `[{"email":`, file: true}}, "", "", 400, "ends in the middle of a JSON value"},
		{"empty file", []formField{conn, {name: "users", value: ``, file: true}}, "", "", 400, "holds no users"},
		{"file too large", []formField{conn, {name: "users", value: "[" + strings.Repeat(`{"email":"a@example.com"},`, 200) + "{}]", file: true}}, "", "", 400, "larger than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := multipartBody(t, tt.fields...)
			if tt.ct != "" {
				ct, body = tt.ct, []byte(`{"connection_id":"x"}`)
			}
			tok := tt.tok
			switch tok {
			case "":
				tok = e.token(t, "create:users")
			case "-":
				tok = ""
			}
			status, b := e.upload(t, ct, body, tok)
			wantError(t, status, b, tt.status, tt.msg)
		})
	}
	// A body past the limit, here in the preamble before the first part,
	// is cut off.
	ct, body := multipartBody(t, users, conn)
	status, b := e.upload(t, ct, append(bytes.Repeat([]byte("preamble line\r\n"), 200_000), body...), e.token(t, "create:users"))
	wantError(t, status, b, 413, "Payload too large")
	// A broken multipart body is refused too.
	status, b = e.upload(t, "multipart/form-data; boundary=xyz", []byte("--xyz\r\nno headers"), e.token(t, "create:users"))
	wantError(t, status, b, 400, "multipart form")
}

// TestJobsNotEnabled: an API built without jobs says so.
func TestJobsNotEnabled(t *testing.T) {
	e := newEnv(t)
	status, b := e.do(t, "GET", "/api/v2/jobs/job_0000000000000000", nil, e.token(t, "read:users"))
	wantError(t, status, b, 501, "not enabled")
	resp, err := http.Get(e.srv.URL + "/api/v2/jobs/job_0000000000000000/file?token=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 501 {
		t.Errorf("download without jobs: %d", resp.StatusCode)
	}
}

func TestGetJob(t *testing.T) {
	e, _ := newJobsEnv(t, 0)
	tests := []struct {
		name   string
		path   string
		tok    string
		status int
		msg    string
	}{
		{"unknown job", "/api/v2/jobs/job_0000000000000000", e.token(t, "read:users"), 404, `job "job_0000000000000000" not found`},
		{"unknown job's errors", "/api/v2/jobs/job_0000000000000000/errors", e.token(t, "create:users"), 404, "not found"},
		{"no token", "/api/v2/jobs/job_0000000000000000", "", 401, "Missing authentication"},
		{"other scope", "/api/v2/jobs/job_0000000000000000", e.token(t, "update:users"), 403, "create:users,read:users"},
		{"errors, other scope", "/api/v2/jobs/job_0000000000000000/errors", e.token(t, "delete:users"), 403, "Insufficient scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b := e.do(t, "GET", tt.path, nil, tt.tok)
			wantError(t, status, b, tt.status, tt.msg)
		})
	}
}

func TestExportJob(t *testing.T) {
	e, _ := newJobsEnv(t, 0)
	for i := range 3 {
		e.createUser(t, fmt.Sprintf("user%d@example.com", i), map[string]any{"user_metadata": map[string]any{"plan": fmt.Sprint("p", i)}})
	}
	var j jobOut
	status, b := e.do(t, "POST", "/api/v2/jobs/users-exports", map[string]any{"connection_id": dbConn, "format": "json", "limit": 2,
		"fields": []map[string]any{{"name": "email"}, {"name": "user_metadata.plan", "export_as": "plan"}}}, e.token(t, "read:users"))
	if status != 201 || json.Unmarshal(b, &j) != nil || j.Type != "users_export" || j.Status != "pending" || j.Format != "json" ||
		j.Limit != 2 || len(j.Fields) != 2 || j.Fields[1].ExportAs != "plan" || j.Summary != nil || j.Location != "" {
		t.Fatalf("POST users-exports: %d %s", status, b)
	}
	j = e.waitJob(t, j.ID)
	if j.Status != "completed" || !strings.HasPrefix(j.Location, e.issuer+"/api/v2/jobs/"+j.ID+"/file?token=") {
		t.Fatalf("finished export %+v", j)
	}

	// The location is fetched without the management token.
	resp, err := http.Get(j.Location)
	if err != nil {
		t.Fatal(err)
	}
	gz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/gzip" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), j.ID+".json.gz") {
		t.Fatalf("download: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	lines := strings.Split(strings.TrimSpace(string(plain)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"email":"user`) || !strings.Contains(lines[0], `"plan":"p`) {
		t.Errorf("exported lines %q", plain)
	}
	if resp, err := http.Head(j.Location); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(gz)) {
		t.Errorf("HEAD of the location: %v %v", resp, err)
	}

	u, _ := url.Parse(j.Location)
	tok := u.Query().Get("token")
	for _, bad := range []string{
		e.srv.URL + "/api/v2/jobs/" + j.ID + "/file",
		e.srv.URL + "/api/v2/jobs/" + j.ID + "/file?token=" + url.QueryEscape(tok[:len(tok)-2]+"AA"),
		e.srv.URL + "/api/v2/jobs/job_0000000000000000/file?token=" + url.QueryEscape(tok),
	} {
		resp, err := http.Get(bad)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp.StatusCode, b, 403, "invalid or has expired")
	}
	resp, err = http.Post(j.Location, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST to the location: %d %v", resp.StatusCode, resp.Header)
	}

	// Without options: every user, the whole profile.
	status, b = e.do(t, "POST", "/api/v2/jobs/users-exports", map[string]any{}, e.token(t, "read:users"))
	if status != 201 || json.Unmarshal(b, &j) != nil {
		t.Fatalf("export of everyone: %d %s", status, b)
	}
	if j = e.waitJob(t, j.ID); j.Status != "completed" || j.ConnectionID != "" {
		t.Errorf("export of everyone %+v", j)
	}
}

func TestExportJobRefused(t *testing.T) {
	e, jobs := newJobsEnv(t, 0)
	tests := []struct {
		name   string
		body   any
		tok    string
		status int
		msg    string
	}{
		{"create scope only", map[string]any{}, e.token(t, "create:users"), 403, "expected any of: read:users"},
		{"unknown field", map[string]any{"connection": dbConn}, "", 400, "Additional properties not allowed: connection"},
		{"csv", map[string]any{"format": "csv"}, "", 400, "csv is not supported"},
		{"limit zero", map[string]any{"limit": 0}, "", 400, "'limit' must be at least 1"},
		{"limit string", map[string]any{"limit": "5"}, "", 400, "property limit"},
		{"bad field", map[string]any{"fields": []map[string]any{{"name": "password"}}}, "", 400, "not a field of the user profile"},
		{"field without name", map[string]any{"fields": []map[string]any{{"export_as": "x"}}}, "", 400, "is not a path"},
		{"unknown connection", map[string]any{"connection_id": "nope"}, "", 404, `connection "nope" not found`},
		{"not JSON", `{"format":`, "", 400, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := tt.tok
			if tok == "" {
				tok = e.token(t, "read:users")
			}
			status, b := e.do(t, "POST", "/api/v2/jobs/users-exports", tt.body, tok)
			wantError(t, status, b, tt.status, tt.msg)
		})
	}
	// An import has no file to download, even with a link of its own ID.
	ct, body := multipartBody(t, formField{name: "users", value: `[{"email":"a@example.com"}]`, file: true}, formField{name: "connection_id", value: dbConn})
	status, b := e.upload(t, ct, body, e.token(t, "create:users"))
	var j jobOut
	if status != 201 || json.Unmarshal(b, &j) != nil {
		t.Fatalf("import: %d %s", status, b)
	}
	e.waitJob(t, j.ID)
	resp, err := http.Get(e.srv.URL + "/api/v2/jobs/" + j.ID + "/file?token=" + url.QueryEscape(jobs.ExportToken(j.ID)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, b, 404, "has no file")
}

// TestSlowUpload: an upload may take longer than the server's read
// timeout for other requests.
func TestSlowUpload(t *testing.T) {
	e, _ := newJobsEnv(t, 0)
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	ct, body := multipartBody(t, formField{name: "connection_id", value: dbConn},
		formField{name: "users", value: `[{"email":"slow@example.com"}]`, file: true})
	pr, pw := io.Pipe()
	go func() {
		// Five pieces, a fifth of a second apart: three times the timeout.
		for i := range 5 {
			time.Sleep(200 * time.Millisecond)
			_, _ = pw.Write(body[i*len(body)/5 : (i+1)*len(body)/5])
		}
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/api/v2/jobs/users-imports", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+e.token(t, "create:users"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("slow upload: %d %s", resp.StatusCode, b)
	}
}
