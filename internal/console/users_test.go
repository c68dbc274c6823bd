package console_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

var userIDRE = regexp.MustCompile(`<code id="user-id">([^<]+)</code>`)
var passwordLinkRE = regexp.MustCompile(`<code class="secret-value" id="password-link" data-copy="the password link">([^<]+)</code>`)

// TestUsers walks the Users pages and their error paths: search and
// pages, creation with the API's errors beside their fields, the
// profile, metadata refused as invalid JSON before any API call, block,
// the password link shown once, roles, sessions, factors, identities and
// a confirmed deletion.
func TestUsers(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	b := e.browser()
	b.signIn("admin@example.com")
	csrf := b.get("/admin/users/new").hidden(t, "csrf")

	t.Run("create", func(t *testing.T) {
		bad := b.post("/admin/users", url.Values{"csrf": {csrf}, "email": {"not an email"}, "password": {password},
			"connection": {"Username-Password-Authentication"}, "name": {"Ada"}})
		if bad.status != 400 || !strings.Contains(bad.body, `id="err-email"`) || !strings.Contains(bad.body, `value="Ada"`) {
			t.Fatalf("bad email %d:\n%s", bad.status, bad.body)
		}
		weak := b.post("/admin/users", url.Values{"csrf": {csrf}, "email": {"ada@example.com"}, "password": {"a"},
			"connection": {"Username-Password-Authentication"}})
		if weak.status != 400 || !strings.Contains(weak.body, `id="err-password"`) || strings.Contains(weak.body, `value="a"`) {
			t.Fatalf("weak password %d:\n%s", weak.status, weak.body)
		}
		noConn := b.post("/admin/users", url.Values{"csrf": {csrf}, "email": {"ada@example.com"}, "password": {password},
			"connection": {"nope"}})
		if noConn.status != 400 || !strings.Contains(noConn.body, `id="err-connection"`) {
			t.Fatalf("unknown connection %d:\n%s", noConn.status, noConn.body)
		}
		ok := b.post("/admin/users", url.Values{"csrf": {csrf}, "email": {"ada@example.com"}, "password": {password},
			"connection": {"Username-Password-Authentication"}, "name": {"Ada Lovelace"}})
		if ok.status != 200 || !strings.Contains(ok.body, "The user was created.") || userIDRE.FindStringSubmatch(ok.body) == nil {
			t.Fatalf("create %d %s:\n%s", ok.status, ok.url, ok.body)
		}
		dup := b.post("/admin/users", url.Values{"csrf": {csrf}, "email": {"ada@example.com"}, "password": {password},
			"connection": {"Username-Password-Authentication"}})
		if dup.status != 400 || !strings.Contains(dup.body, `role="alert"`) {
			t.Fatalf("duplicate %d:\n%s", dup.status, dup.body)
		}
	})

	t.Run("list", func(t *testing.T) {
		for i := range 21 {
			e.user("bulk"+string(rune('a'+i))+"@example.com", mgmt.AdminNone)
		}
		first := b.get("/admin/users")
		if first.status != 200 || !strings.Contains(first.body, `rel="next"`) || !strings.Contains(first.body, "Page 1 of 2") {
			t.Fatalf("first page %d:\n%s", first.status, first.body)
		}
		if second := b.get("/admin/users?page=1"); !strings.Contains(second.body, `rel="prev"`) {
			t.Fatalf("second page:\n%s", second.body)
		}
		found := b.get("/admin/users?q=ADA")
		if !strings.Contains(found.body, "ada@example.com") || strings.Contains(found.body, "bulka@example.com") {
			t.Fatalf("search by email:\n%s", found.body)
		}
		byName := b.get("/admin/users?q=" + url.QueryEscape(`name:"Ada*"`))
		if !strings.Contains(byName.body, "ada@example.com") || strings.Contains(byName.body, "bulka@") {
			t.Fatalf("search by name:\n%s", byName.body)
		}
		if none := b.get("/admin/users?q=zzz"); !strings.Contains(none.body, "No user matches") {
			t.Fatalf("empty search:\n%s", none.body)
		}
		bad := b.get("/admin/users?q=" + url.QueryEscape("colour:blue"))
		if bad.status != 400 || !strings.Contains(bad.body, "cannot be searched") {
			t.Fatalf("bad query %d:\n%s", bad.status, bad.body)
		}
	})

	id := e.user("grace@example.com", mgmt.AdminNone)
	path := "/admin/users/" + url.PathEscape(id)

	t.Run("not found", func(t *testing.T) {
		for _, p := range []string{"/admin/users/auth0%7Cnobody", "/admin/users/auth0%7Cnobody/delete", "/admin/users/auth0%7Cnobody/sessions/revoke"} {
			if got := b.get(p); got.status != 404 {
				t.Fatalf("%s: %d\n%s", p, got.status, got.body)
			}
		}
		if got := b.post(path+"/factors/nope/delete", url.Values{"csrf": {csrf}}); got.status != 404 {
			t.Fatalf("unknown factor: %d\n%s", got.status, got.body)
		}
	})

	t.Run("profile", func(t *testing.T) {
		bad := b.post(path, url.Values{"csrf": {csrf}, "email": {"nope"}, "name": {"Grace"}})
		if bad.status != 400 || !strings.Contains(bad.body, `id="err-email"`) {
			t.Fatalf("bad email %d:\n%s", bad.status, bad.body)
		}
		ok := b.post(path, url.Values{"csrf": {csrf}, "email": {"grace@example.com"}, "name": {"Grace Hopper"}, "email_verified": {"on"}})
		if ok.status != 200 || !strings.Contains(ok.body, "The changes were saved.") || !strings.Contains(ok.body, `value="Grace Hopper"`) {
			t.Fatalf("profile %d:\n%s", ok.status, ok.body)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		before := settledEvents(t, e)
		bad := b.post(path+"/metadata", url.Values{"csrf": {csrf}, "app_metadata": {`{"plan": "gold"`}, "user_metadata": {`[1]`}})
		if bad.status != 400 || !strings.Contains(bad.body, `id="err-app_metadata"`) || !strings.Contains(bad.body, "not valid JSON") ||
			!strings.Contains(bad.body, `id="err-user_metadata"`) || !strings.Contains(bad.body, "must be a JSON object") ||
			!strings.Contains(bad.body, `{&#34;plan&#34;: &#34;gold&#34;</textarea>`) {
			t.Fatalf("bad JSON %d:\n%s", bad.status, bad.body)
		}
		ok := b.post(path+"/metadata", url.Values{"csrf": {csrf}, "app_metadata": {`{"plan": "gold", "seats": 3}`}, "user_metadata": {`{"theme": "dark"}`}})
		if ok.status != 200 || !strings.Contains(ok.body, "The metadata was saved.") || !strings.Contains(ok.body, "&#34;seats&#34;: 3") {
			t.Fatalf("metadata %d:\n%s", ok.status, ok.body)
		}
		// The audit log is written in order: once the valid change is
		// in it, a call made by the invalid one would be too.
		if after := waitEvents(t, e, before+1); after != before+1 {
			t.Fatalf("invalid JSON reached the API: %d API events, then %d", before, after)
		}
		removed := b.post(path+"/metadata", url.Values{"csrf": {csrf}, "app_metadata": {`{"plan": "gold"}`}, "user_metadata": {``}})
		u, err := e.svc.GetUser(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if removed.status != 200 || len(u.AppMetadata) != 1 || u.AppMetadata["plan"] != "gold" || len(u.UserMetadata) != 0 {
			t.Fatalf("after removing keys: %d app %v user %v", removed.status, u.AppMetadata, u.UserMetadata)
		}
		big := b.post(path+"/metadata", url.Values{"csrf": {csrf}, "app_metadata": {`{"x": "` + strings.Repeat("a", 20000) + `"}`}, "user_metadata": {`{}`}})
		if big.status != 400 || !strings.Contains(big.body, `role="alert"`) {
			t.Fatalf("metadata too big %d:\n%.2000s", big.status, big.body)
		}
	})

	t.Run("block", func(t *testing.T) {
		p := b.post(path+"/block", url.Values{"csrf": {csrf}, "blocked": {"true"}})
		if p.status != 200 || !strings.Contains(p.body, `<span class="badge blocked">blocked</span>`) || !strings.Contains(p.body, `id="unblock"`) {
			t.Fatalf("block %d:\n%s", p.status, p.body)
		}
		lb := e.browser()
		login := lb.get("/admin/")
		refused := lb.post("/u/login", url.Values{"csrf": {login.hidden(t, "csrf")}, "req": {login.hidden(t, "req")},
			"email": {"grace@example.com"}, "password": {password}})
		if refused.url.Path != "/u/login" || !strings.Contains(refused.body, "blocked") {
			t.Fatalf("a blocked user logged in: %s %d\n%s", refused.url, refused.status, refused.body)
		}
		p = b.post(path+"/block", url.Values{"csrf": {csrf}, "blocked": {"false"}})
		if p.status != 200 || !strings.Contains(p.body, `id="block"`) {
			t.Fatalf("unblock %d:\n%s", p.status, p.body)
		}
	})

	t.Run("password link", func(t *testing.T) {
		p := b.post(path+"/password-link", url.Values{"csrf": {csrf}})
		m := passwordLinkRE.FindStringSubmatch(p.body)
		if p.status != 200 || m == nil || !strings.HasPrefix(m[1], e.issuer+"/") {
			t.Fatalf("password link %d:\n%s", p.status, p.body)
		}
		if again := b.get(path); strings.Contains(again.body, m[1]) {
			t.Fatal("the link is shown twice")
		}
	})

	t.Run("sessions", func(t *testing.T) {
		e.browser().signIn("grace@example.com") // a session, though no console for her
		p := b.get(path)
		if !strings.Contains(p.body, "Revoke all sessions") {
			t.Fatalf("no session listed:\n%s", p.body)
		}
		if c := b.get(path + "/sessions/revoke"); c.status != 200 || !strings.Contains(c.body, `action="`+path+`/sessions/revoke"`) {
			t.Fatalf("confirm %d:\n%s", c.status, c.body)
		}
		done := b.post(path+"/sessions/revoke", url.Values{"csrf": {csrf}})
		if done.status != 200 || !strings.Contains(done.body, "Every session of the user was revoked.") || !strings.Contains(done.body, "No open session.") {
			t.Fatalf("revoke %d:\n%s", done.status, done.body)
		}
	})

	t.Run("roles", func(t *testing.T) {
		name := "editor"
		r, err := e.svc.CreateRole(t.Context(), mgmt.RoleSettings{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		if p := b.get(path); !strings.Contains(p.body, `<option value="`+r.ID+`">editor</option>`) {
			t.Fatalf("no role to assign:\n%s", p.body)
		}
		bad := b.post(path+"/roles", url.Values{"csrf": {csrf}, "role": {"rol_nope"}})
		if bad.status != 400 || !strings.Contains(bad.body, `id="err-role"`) {
			t.Fatalf("unknown role %d:\n%s", bad.status, bad.body)
		}
		ok := b.post(path+"/roles", url.Values{"csrf": {csrf}, "role": {r.ID}})
		if ok.status != 200 || !strings.Contains(ok.body, `<span>editor</span>`) {
			t.Fatalf("assign %d:\n%s", ok.status, ok.body)
		}
		gone := b.post(path+"/roles/remove", url.Values{"csrf": {csrf}, "role": {r.ID}})
		if gone.status != 200 || strings.Contains(gone.body, `<span>editor</span>`) {
			t.Fatalf("remove %d:\n%s", gone.status, gone.body)
		}
	})

	t.Run("identities", func(t *testing.T) {
		provider, uid, _ := strings.Cut(id, "|")
		p := b.post(path+"/identities/"+provider+"/"+uid+"/unlink", url.Values{"csrf": {csrf}})
		if p.status != 400 && p.status != 409 {
			t.Fatalf("unlinking the primary identity: %d\n%s", p.status, p.body)
		}
		if p := b.get(path + "/identities/github/nobody/unlink"); p.status != 200 || !strings.Contains(p.body, "github|nobody") {
			t.Fatalf("confirm %d:\n%s", p.status, p.body)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if p := b.get(path + "/delete"); p.status != 200 || !strings.Contains(p.body, "cannot be undone") {
			t.Fatalf("confirm %d", p.status)
		}
		p := b.post(path+"/delete", url.Values{"csrf": {csrf}})
		if p.status != 200 || p.url.Path != "/admin/users" || !strings.Contains(p.body, "The user was deleted.") {
			t.Fatalf("delete %d %s:\n%s", p.status, p.url, p.body)
		}
		if p := b.get(path); p.status != 404 {
			t.Fatalf("deleted user: %d", p.status)
		}
	})
}

// TestUsersReadOnly: a read-only admin reads a user's page without a
// single edit control, and a change posted anyway is refused with a
// message that says why.
func TestUsersReadOnly(t *testing.T) {
	e := newEnv(t)
	e.user("reader@example.com", mgmt.AdminReadOnly)
	id := e.user("grace@example.com", mgmt.AdminNone)
	b := e.browser()
	b.signIn("reader@example.com")
	path := "/admin/users/" + url.PathEscape(id)
	p := b.get(path)
	if p.status != 200 || strings.Contains(p.body, `method="post" action="/admin/users`) || strings.Contains(p.body, "Delete the user") ||
		strings.Contains(p.body, "Block the user") || !strings.Contains(p.body, "grace@example.com") {
		t.Fatalf("page %d:\n%s", p.status, p.body)
	}
	if l := b.get("/admin/users"); strings.Contains(l.body, "New user") {
		t.Fatal("the list offers a new user")
	}
	if n := b.get("/admin/users/new"); n.status != 403 || !strings.Contains(n.body, "read-only") {
		t.Fatalf("new form %d:\n%s", n.status, n.body)
	}
	csrf := p.hidden(t, "csrf")
	for _, action := range []string{"/block", "/delete", "/password-link", "/sessions/revoke", ""} {
		got := b.post(path+action, url.Values{"csrf": {csrf}, "blocked": {"true"}, "email": {"x@example.com"}})
		if got.status != 403 || !strings.Contains(got.body, "read-only") {
			t.Fatalf("POST %s: %d\n%s", action, got.status, got.body)
		}
	}
	if u, _ := e.svc.GetUser(t.Context(), id); u.Blocked {
		t.Fatal("a read-only admin blocked the user")
	}
	// Reading the log and the dashboard is allowed.
	for _, path := range []string{"/admin/", "/admin/logs", "/admin/logs?type=s", "/admin/logs/tail?from=" + strings.Repeat("0", 56)} {
		if got := b.get(path); got.status != 200 && !(strings.Contains(path, "tail") && got.status == 400) {
			t.Fatalf("%s: %d\n%s", path, got.status, got.body)
		}
	}
}

// TestUsersNonAdmin: a user without an admin role reaches none of the
// pages, and the page says nothing of them.
func TestUsersNonAdmin(t *testing.T) {
	e := newEnv(t)
	id := e.user("plain@example.com", mgmt.AdminNone)
	b := e.browser()
	b.signIn("plain@example.com")
	for _, path := range []string{"/admin/users", "/admin/users/" + url.PathEscape(id), "/admin/logs", "/admin/logs/tail?from=x"} {
		if got := b.get(path); got.status != 403 || strings.Contains(got.body, "plain@example.com") || strings.Contains(got.body, "Logs") {
			t.Fatalf("%s: %d\n%s", path, got.status, got.body)
		}
	}
}

// countEvents is the number of the audit log's management-API events.
func countEvents(t *testing.T, e *env) int {
	t.Helper()
	_, n, err := e.svc.SearchLogs(t.Context(), store.LogFilter{Types: []string{"sapi", "fapi"}, Limit: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitEvents waits until the audit log, written in batches, holds at
// least n management-API events, and returns their number.
func waitEvents(t *testing.T, e *env, n int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := countEvents(t, e)
		if got >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settledEvents waits until the earlier events are written (the count
// holds still for longer than the writer's batching) and returns it.
func settledEvents(t *testing.T, e *env) int {
	t.Helper()
	last := countEvents(t, e)
	for range 50 {
		time.Sleep(300 * time.Millisecond)
		n := countEvents(t, e)
		if n == last {
			return n
		}
		last = n
	}
	t.Fatal("the audit log does not settle")
	return 0
}
