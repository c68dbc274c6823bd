package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestEndToEndManagementAPI: an operator creates an m2m application and
// grants it management scopes with the CLI, gets a token with
// golang.org/x/oauth2/clientcredentials, and manages users and
// applications over /api/v2; the CLI sees what the API did.
func TestEndToEndManagementAPI(t *testing.T) {
	g := startGatehouse(t, nil)
	audience := g.issuer + "/api/v2/"
	call := mgmtClient(t, g, "read:users create:users update:users delete:users read:clients")

	var u struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
		Name   string `json:"name"`
	}
	call("POST", "/users", map[string]any{"connection": "Username-Password-Authentication", "email": userEmail,
		"password": userPass, "name": "Api User"}, 201, &u)
	// The CLI, over the same service layer, sees the user.
	out, errOut, code := g.cli("", "users", "show", u.UserID)
	if code != 0 || !strings.Contains(out, userEmail) {
		t.Fatalf("users show: %d %s %s", code, out, errOut)
	}
	var found []struct {
		UserID string `json:"user_id"`
	}
	call("GET", "/users?q="+url.QueryEscape(`email:"`+userEmail+`"`), nil, 200, &found)
	if len(found) != 1 || found[0].UserID != u.UserID {
		t.Fatalf("search: %+v", found)
	}
	call("PATCH", "/users/"+url.PathEscape(u.UserID), map[string]any{"name": "Renamed"}, 200, &u)
	if u.Name != "Renamed" {
		t.Fatalf("patched: %+v", u)
	}
	// The password set through the API logs in through the hosted page.
	appID, appSecret := g.app(rpCallback)
	r := newRP(t, g, appID, appSecret)
	loginFlow(t, newBrowser(t, g.issuer), r)
	var clients []map[string]any
	call("GET", "/clients", nil, 200, &clients)
	if len(clients) == 0 {
		t.Fatal("no applications listed")
	}
	// Not granted: 403 in the API's shape.
	var e struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	}
	call("POST", "/clients", map[string]any{"name": "x"}, 403, &e)
	if e.StatusCode != 403 || !strings.Contains(e.Message, "create:clients") {
		t.Fatalf("403 body: %+v", e)
	}
	call("DELETE", "/users/"+url.PathEscape(u.UserID), nil, 204, nil)
	if _, _, code := g.cli("", "users", "show", u.UserID); code == 0 {
		t.Fatal("the CLI still shows the deleted user")
	}

	// A user cannot get a management token through /authorize.
	u2, _ := r.authURL(oauth2.SetAuthURLParam("audience", audience))
	p := newBrowser(t, g.issuer).get(u2)
	if q := callbackParams(t, p, rpCallback); q.Get("error") != "invalid_request" {
		t.Fatalf("/authorize with the management audience: %v", q)
	}
}

// TestEndToEndUserImportJob: a bulk import uploaded to the running
// server's /api/v2/jobs/users-imports finishes in the background; the
// failed row is reported; an export's signed
// link downloads the users as JSON lines.
func TestEndToEndUserImportJob(t *testing.T) {
	g := startGatehouse(t, nil)
	audience := g.issuer + "/api/v2/"
	id, secret := g.m2mApp(audience, "read:users create:users")
	client := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: g.issuer + "/oauth/token",
		EndpointParams: url.Values{"audience": {audience}}}).Client(t.Context())

	users := `[{"email":"` + userEmail + `","email_verified":true,"name":"Imported"},{"email":"not an email"}]`
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("users", "users.json")
	fw.Write([]byte(users))
	mw.WriteField("connection_id", "Username-Password-Authentication")
	mw.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", g.issuer+"/api/v2/jobs/users-imports", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("import: %d %s", resp.StatusCode, b)
	}
	var job struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Summary struct {
			Inserted, Failed, Total int
		} `json:"summary"`
		Location string `json:"location"`
	}
	if err := json.Unmarshal(b, &job); err != nil || job.ID == "" {
		t.Fatalf("job: %s", b)
	}
	getJob := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := client.Get(g.issuer + "/api/v2/jobs/" + job.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := json.Unmarshal(b, &job); err != nil {
				t.Fatalf("job: %s", b)
			}
			if job.Status == "completed" || job.Status == "failed" || time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	getJob()
	if job.Status != "completed" || job.Summary.Inserted != 1 || job.Summary.Failed != 1 || job.Summary.Total != 2 {
		t.Fatalf("import job: %+v", job)
	}
	out, _, code := g.cli("", "users", "list")
	if code != 0 || !strings.Contains(out, userEmail) {
		t.Fatalf("imported user not listed: %s", out)
	}

	// Export: the link needs no token and serves gzip JSON lines.
	resp, err = client.Post(g.issuer+"/api/v2/jobs/users-exports", "application/json", strings.NewReader(`{"format":"json"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || json.Unmarshal(b, &job) != nil {
		t.Fatalf("export: %d %s", resp.StatusCode, b)
	}
	getJob()
	if job.Status != "completed" || job.Location == "" {
		t.Fatalf("export job: %+v", job)
	}
	resp, err = http.Get(job.Location)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("export file (%d): %v", resp.StatusCode, err)
	}
	lines, _ := io.ReadAll(zr)
	if !strings.Contains(string(lines), userEmail) {
		t.Fatalf("export file: %s", lines)
	}
}
