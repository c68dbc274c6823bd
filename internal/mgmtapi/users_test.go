package mgmtapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
)

type userOut struct {
	UserID        string         `json:"user_id"`
	Email         string         `json:"email"`
	EmailVerified bool           `json:"email_verified"`
	Name          string         `json:"name"`
	Nickname      string         `json:"nickname"`
	GivenName     string         `json:"given_name"`
	Blocked       bool           `json:"blocked"`
	CreatedAt     string         `json:"created_at"`
	Identities    []identityOut  `json:"identities"`
	AppMetadata   map[string]any `json:"app_metadata"`
	UserMetadata  map[string]any `json:"user_metadata"`
	PasswordHash  string         `json:"password_hash"`
}

type identityOut struct {
	Connection string `json:"connection"`
	Provider   string `json:"provider"`
	UserID     string `json:"user_id"`
	IsSocial   bool   `json:"isSocial"`
}

const dbConn = store.DefaultDatabaseConnection

func (e *env) createUser(t *testing.T, email string, extra map[string]any) userOut {
	t.Helper()
	body := map[string]any{"connection": dbConn, "email": email}
	for k, v := range extra {
		body[k] = v
	}
	var u userOut
	e.call(t, "POST", "/api/v2/users", body, 201, &u)
	return u
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "Ada@Example.com", map[string]any{"password": "correct horse battery staple",
		"name": "Ada Lovelace", "given_name": "Ada", "email_verified": true,
		"app_metadata": map[string]any{"plan": "pro"}, "user_metadata": map[string]any{"theme": "dark"}})
	if u.Email != "ada@example.com" || !u.EmailVerified || u.Name != "Ada Lovelace" || u.Nickname != "ada" ||
		u.AppMetadata["plan"] != "pro" || u.UserMetadata["theme"] != "dark" || u.CreatedAt == "" {
		t.Fatalf("created user: %+v", u)
	}
	if u.PasswordHash != "" {
		t.Fatal("the password hash left the server")
	}
	if len(u.Identities) != 1 || u.Identities[0].Connection != dbConn || u.Identities[0].IsSocial {
		t.Fatalf("identities: %+v", u.Identities)
	}
	// The password works at login.
	db, err := database.Open(database.Config{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Login(t.Context(), "ada@example.com", "correct horse battery staple"); err != nil {
		t.Fatalf("login with the password set by the API: %v", err)
	}
	// Without a password: created, but no password login until one is set.
	v := e.createUser(t, "nopw@example.com", map[string]any{"user_id": "custom-1"})
	if v.UserID != "gatehouse|custom-1" {
		t.Fatalf("user_id: %q", v.UserID)
	}
	var got userOut
	e.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), nil, 200, &got)
	if got.UserID != u.UserID || got.Email != u.Email {
		t.Fatalf("get: %+v", got)
	}

	tok := e.token(t, all...)
	tests := []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"no connection", map[string]any{"email": "x@example.com"}, 400, "connection is required"},
		{"unknown connection", map[string]any{"connection": "nope", "email": "x@example.com"}, 400, `connection "nope" does not exist`},
		{"bad email", map[string]any{"connection": dbConn, "email": "not an email"}, 400, "email"},
		{"weak password", map[string]any{"connection": dbConn, "email": "x@example.com", "password": "password"}, 400, "common passwords"},
		{"taken email", map[string]any{"connection": dbConn, "email": "ADA@example.com"}, 409, "already exists"},
		{"taken user_id", map[string]any{"connection": dbConn, "email": "y@example.com", "user_id": "custom-1"}, 409, "already exists"},
		{"bad user_id", map[string]any{"connection": dbConn, "email": "y@example.com", "user_id": "a|b"}, 400, "user_id"},
		{"bad picture", map[string]any{"connection": dbConn, "email": "y@example.com", "picture": "javascript:alert(1)"}, 400, "picture"},
		{"verify_email", map[string]any{"connection": dbConn, "email": "y@example.com", "verify_email": true}, 400, "tickets/email-verification"},
		{"huge metadata", map[string]any{"connection": dbConn, "email": "y@example.com", "user_metadata": map[string]any{"x": string(make([]byte, 17<<10))}}, 400, "user_metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "POST", "/api/v2/users", tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	status, body := e.do(t, "GET", "/api/v2/users/"+url.PathEscape("gatehouse|nobody"), nil, tok)
	wantError(t, status, body, 404, "not found")
	var ae apiError
	_, body = e.do(t, "POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "w@example.com", "password": "short"}, tok)
	if err := json.Unmarshal(body, &ae); err != nil || ae.ErrorCode != "PasswordStrengthError" || ae.StatusCode != 400 {
		t.Fatalf("weak password: %s", body)
	}
}

func TestCreateUserInSocialConnectionRefused(t *testing.T) {
	e := newEnv(t)
	if err := e.st.CreateConnection(t.Context(), store.Connection{Name: "github", Strategy: store.StrategyGitHub}); err != nil {
		t.Fatal(err)
	}
	status, body := e.do(t, "POST", "/api/v2/users", map[string]any{"connection": "github", "email": "a@example.com"}, e.token(t, all...))
	wantError(t, status, body, 400, "come from its provider")
}

func TestSearchUsers(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "ada@example.com", map[string]any{"name": "Ada"})
	e.createUser(t, "adam@example.com", map[string]any{"name": "Adam"})
	bob := e.createUser(t, "bob@example.org", map[string]any{"name": "Bob Builder"})
	tests := []struct {
		q    string
		want []string
	}{
		{`email:"ada@example.com"`, []string{"ada@example.com"}},
		{`email:ada@example.com`, []string{"ada@example.com"}},
		{`email:ada*`, []string{"ada@example.com", "adam@example.com"}},
		{`name:"Bob Builder"`, []string{"bob@example.org"}},
		{`user_id:"` + bob.UserID + `"`, []string{"bob@example.org"}},
		{`email:ada* AND name:"Adam"`, []string{"adam@example.com"}},
		{`identities.connection:"` + dbConn + `" AND name:Ada`, []string{"ada@example.com"}},
		{`email:"nobody@example.com"`, nil},
	}
	for _, tt := range tests {
		var got []userOut
		e.call(t, "GET", "/api/v2/users?search_engine=v3&q="+url.QueryEscape(tt.q), nil, 200, &got)
		var emails []string
		for _, u := range got {
			emails = append(emails, u.Email)
		}
		slices.Sort(emails)
		if fmt.Sprint(emails) != fmt.Sprint(tt.want) {
			t.Errorf("q=%s: got %v, want %v", tt.q, emails, tt.want)
		}
	}
	tok := e.token(t, all...)
	for _, q := range []string{`logins_count:3`, `email:"a" OR name:"b"`, `email:`, `user_id:abc*`, `email:"a" AND email:"b"`} {
		status, body := e.do(t, "GET", "/api/v2/users?q="+url.QueryEscape(q), nil, tok)
		wantError(t, status, body, 400, "Query validation error")
	}
	status, body := e.do(t, "GET", "/api/v2/users?search_engine=v2", nil, tok)
	wantError(t, status, body, 400, "search_engine")

	var byEmail []userOut
	e.call(t, "GET", "/api/v2/users-by-email?email=ADA%40example.com", nil, 200, &byEmail)
	if len(byEmail) != 1 || byEmail[0].Email != "ada@example.com" {
		t.Fatalf("users-by-email: %+v", byEmail)
	}
	status, body = e.do(t, "GET", "/api/v2/users-by-email", nil, tok)
	wantError(t, status, body, 400, "email is required")
}

func TestPatchUser(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "p@example.com", map[string]any{"email_verified": true,
		"user_metadata": map[string]any{"a": 1, "b": 2}, "app_metadata": map[string]any{"plan": "free"}})
	e.createUser(t, "taken@example.com", nil)
	path := "/api/v2/users/" + url.PathEscape(u.UserID)

	var got userOut
	e.call(t, "PATCH", path, map[string]any{"name": "Patty", "user_metadata": map[string]any{"b": nil, "c": 3}}, 200, &got)
	if got.Name != "Patty" || fmt.Sprint(got.UserMetadata) != "map[a:1 c:3]" || got.AppMetadata["plan"] != "free" {
		t.Fatalf("merge: %+v", got)
	}
	got = userOut{} // decoding into a map merges keys
	e.call(t, "PATCH", path, map[string]any{"user_metadata": map[string]any{}}, 200, &got)
	if len(got.UserMetadata) != 0 {
		t.Fatalf("empty object clears: %+v", got.UserMetadata)
	}
	e.call(t, "PATCH", path, map[string]any{"email": "New@example.com"}, 200, &got)
	if got.Email != "new@example.com" || got.EmailVerified {
		t.Fatalf("a new email is unverified: %+v", got)
	}
	e.call(t, "PATCH", path, map[string]any{"password": "another long passphrase 42", "blocked": true}, 200, &got)
	if !got.Blocked {
		t.Fatal("blocked not set")
	}

	tok := e.token(t, all...)
	tests := []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"taken email", map[string]any{"email": "taken@example.com"}, 409, "already exists"},
		{"bad email", map[string]any{"email": "nope"}, 400, "email"},
		{"weak password", map[string]any{"password": "12345678"}, 400, "common passwords"},
		{"other connection", map[string]any{"connection": "github", "email": "z@example.com"}, 400, "not \"github\""},
		{"unknown field", map[string]any{"username": "x"}, 400, "Additional properties not allowed: username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "PATCH", path, tt.body, tok)
			wantError(t, status, body, tt.status, tt.msg)
		})
	}
	status, body := e.do(t, "PATCH", "/api/v2/users/"+url.PathEscape("gatehouse|nobody"), map[string]any{"name": "x"}, tok)
	wantError(t, status, body, 404, "not found")
}

// TestPatchUserConcurrent: 20 PATCHes of the same user at once, each
// setting its own field or metadata key; every one is kept.
func TestPatchUserConcurrent(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "c@example.com", nil)
	path := "/api/v2/users/" + url.PathEscape(u.UserID)
	tok := e.token(t, all...)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := map[string]any{"user_metadata": map[string]any{fmt.Sprintf("k%d", i): i}}
			switch i {
			case 0:
				body["name"] = "Named"
			case 1:
				body["given_name"] = "Given"
			case 2:
				body["app_metadata"] = map[string]any{"plan": "pro"}
			}
			if status, b := e.do(t, "PATCH", path, body, tok); status != 200 {
				t.Errorf("patch %d: %d %s", i, status, b)
			}
		}()
	}
	wg.Wait()
	var got userOut
	e.call(t, "GET", path, nil, 200, &got)
	if len(got.UserMetadata) != 20 || got.Name != "Named" || got.GivenName != "Given" || got.AppMetadata["plan"] != "pro" {
		t.Fatalf("lost updates: %+v", got)
	}
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(t, "d@example.com", nil)
	path := "/api/v2/users/" + url.PathEscape(u.UserID)
	status, _ := e.do(t, "DELETE", path, nil, e.token(t, "delete:users"))
	if status != 204 {
		t.Fatalf("delete: %d", status)
	}
	status, body := e.do(t, "DELETE", path, nil, e.token(t, "delete:users"))
	wantError(t, status, body, 404, "not found")
	status, body = e.do(t, "DELETE", path, nil, e.token(t, "read:users"))
	wantError(t, status, body, 403, "delete:users")
}

func TestLinkAndUnlink(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.st.CreateConnection(ctx, store.Connection{Name: "github", Strategy: store.StrategyGitHub}); err != nil {
		t.Fatal(err)
	}
	primary := e.createUser(t, "l@example.com", nil)
	gh := store.User{ID: "github|77", Connection: "github", Email: "l@example.com",
		Identities: []store.Identity{{Connection: "github", Provider: "github", UserID: "77"}}}
	if err := e.st.CreateUser(ctx, gh); err != nil {
		t.Fatal(err)
	}
	path := "/api/v2/users/" + url.PathEscape(primary.UserID) + "/identities"
	var ids []identityOut
	e.call(t, "POST", path, map[string]any{"provider": "github", "user_id": "77"}, 201, &ids)
	if len(ids) != 2 || ids[1].Provider != "github" || !ids[1].IsSocial || ids[0].IsSocial {
		t.Fatalf("linked identities: %+v", ids)
	}
	tok := e.token(t, all...)
	status, body := e.do(t, "POST", path, map[string]any{"provider": "github", "user_id": "77"}, tok)
	wantError(t, status, body, 404, "not found")
	status, body = e.do(t, "POST", path, map[string]any{"provider": "github"}, tok)
	wantError(t, status, body, 400, "required")

	e.call(t, "DELETE", path+"/github/77", nil, 200, &ids)
	if len(ids) != 1 {
		t.Fatalf("after unlink: %+v", ids)
	}
	// The identity is a user of its own again.
	var standalone userOut
	e.call(t, "GET", "/api/v2/users/"+url.PathEscape("github|77"), nil, 200, &standalone)
	if len(standalone.Identities) != 1 || standalone.Identities[0].UserID != "77" {
		t.Fatalf("standalone user: %+v", standalone)
	}
	status, body = e.do(t, "DELETE", path+"/github/77", nil, tok)
	wantError(t, status, body, 404, "no identity")
	p := primary.Identities[0]
	status, body = e.do(t, "DELETE", path+"/"+p.Provider+"/"+p.UserID, nil, tok)
	wantError(t, status, body, 400, "own identity")
}

func TestUserSessionsAndFactors(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	u := e.createUser(t, "s@example.com", nil)
	now := timeNow()
	for _, id := range []string{"s1", "s2"} {
		if err := e.st.CreateSession(ctx, store.Session{ID: id, UserID: u.UserID, AuthTime: now, Methods: []string{"pwd"},
			CreatedAt: now, ExpiresAt: now.Add(hour)}); err != nil {
			t.Fatal(err)
		}
	}
	base := "/api/v2/users/" + url.PathEscape(u.UserID)
	var sessions struct {
		Sessions []struct {
			ID     string `json:"id"`
			UserID string `json:"user_id"`
		} `json:"sessions"`
	}
	e.call(t, "GET", base+"/sessions", nil, 200, &sessions)
	if len(sessions.Sessions) != 2 || sessions.Sessions[0].UserID != u.UserID {
		t.Fatalf("sessions: %+v", sessions)
	}
	e.call(t, "DELETE", "/api/v2/sessions/s1", nil, 204, nil)
	e.call(t, "GET", base+"/sessions", nil, 200, &sessions)
	if len(sessions.Sessions) != 1 {
		t.Fatalf("after deleting one: %+v", sessions)
	}
	e.call(t, "DELETE", base+"/sessions", nil, 202, nil)
	e.call(t, "GET", base+"/sessions", nil, 200, &sessions)
	if len(sessions.Sessions) != 0 {
		t.Fatalf("after deleting all: %+v", sessions)
	}

	if err := e.st.EnrollTOTP(ctx, store.TOTPFactor{ID: "totp-1", UserID: u.UserID, Name: "Phone", SecretSealed: []byte("x"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var methods []struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		Confirmed bool   `json:"confirmed"`
	}
	e.call(t, "GET", base+"/authentication-methods", nil, 200, &methods)
	if len(methods) != 1 || methods[0].Type != store.FactorTOTP || methods[0].Confirmed {
		t.Fatalf("methods: %+v", methods)
	}
	tok := e.token(t, all...)
	status, body := e.do(t, "DELETE", base+"/authentication-methods/nope", nil, tok)
	wantError(t, status, body, 404, "not found")
	e.call(t, "DELETE", base+"/authentication-methods/"+methods[0].ID, nil, 204, nil)
	e.call(t, "GET", base+"/authentication-methods", nil, 200, &methods)
	if len(methods) != 0 {
		t.Fatalf("after delete: %+v", methods)
	}
	status, body = e.do(t, "GET", "/api/v2/users/"+url.PathEscape("gatehouse|nobody")+"/sessions", nil, tok)
	wantError(t, status, body, 404, "not found")
}
