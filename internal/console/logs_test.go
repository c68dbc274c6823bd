package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
)

var tailFromRE = regexp.MustCompile(`<span id="tail" data-from="([^"]+)"`)
var logLinkRE = regexp.MustCompile(`<a href="/admin/logs/([^"?]+)">`)

// waitFor reloads path until its body holds want, the audit log being
// written in batches.
func waitFor(t *testing.T, b *browser, path, want string) page {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p := b.get(path)
		if strings.Contains(p.body, want) || time.Now().After(deadline) {
			if !strings.Contains(p.body, want) {
				t.Fatalf("%s never shows %q (%d):\n%s", path, want, p.status, p.body)
			}
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type tailAnswer struct {
	Next   string `json:"next"`
	Events []struct {
		LogID, URL, Date, Type, Description, User, App string
	} `json:"events"`
}

func (b *browser) tail(t *testing.T, query string) (int, tailAnswer) {
	t.Helper()
	resp, err := b.client.Get(b.e.srv.URL + "/admin/logs/tail?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out tailAnswer
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, out
}

// TestLogs walks the audit log: the admin's own login in it, the
// filters by type, user (ID or email) and application with pages that
// keep them, an event's page, the tail the script polls, and the error
// paths (an unknown event, a bad checkpoint).
func TestLogs(t *testing.T) {
	e := newEnv(t)
	adminID := e.user("admin@example.com", mgmt.AdminFull)
	b := e.browser()
	b.signIn("admin@example.com")

	list := waitFor(t, b, "/admin/logs", "Login (s)")
	m := tailFromRE.FindStringSubmatch(list.body)
	if list.status != 200 || m == nil || !strings.Contains(list.body, `<script src="/u/static/console-tail.js" defer>`) ||
		!strings.Contains(list.body, `id="newer"`) {
		t.Fatalf("list %d:\n%s", list.status, list.body)
	}
	resp, err := b.client.Get(e.srv.URL + "/admin/logs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "script-src 'self';") {
		t.Fatalf("CSP %q", csp)
	}

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			query, want, not string
		}{
			{"type=ss", "No events match the filter", "Login (s)"},
			{"type=s", "Login (s)", "No events"},
			{"user=" + url.QueryEscape(adminID), "Login (s)", "No events"},
			{"user=ADMIN%40example.com", "Login (s)", "No events"},
			{"user=nobody%40example.com", "No user has the email address", "Login (s)"},
			{"app=" + mgmt.ConsoleClientID, "Login (s)", "No events"},
			{"app=nope", "No events match the filter", "Login (s)"},
			{"type=bogus", "Login (s)", "No events"}, // an unknown choice is no filter
		} {
			p := b.get("/admin/logs?" + tc.query)
			if p.status != 200 || !strings.Contains(p.body, tc.want) || strings.Contains(p.body, tc.not) {
				t.Errorf("%s: %d, want %q, not %q:\n%s", tc.query, p.status, tc.want, tc.not, p.body)
			}
		}
	})

	t.Run("pages keep the filter", func(t *testing.T) {
		id := e.user("grace@example.com", mgmt.AdminNone)
		csrf := list.hidden(t, "csrf")
		for i := range 22 {
			b.post("/admin/users/"+url.PathEscape(id)+"/block", url.Values{"csrf": {csrf}, "blocked": {strconv.FormatBool(i%2 == 0)}})
		}
		first := waitFor(t, b, "/admin/logs?type=sapi+fapi", "Page 1 of 2")
		next := `href="/admin/logs?page=1&amp;type=sapi&#43;fapi"`
		if !strings.Contains(first.body, next) || strings.Contains(first.body, "Login (s)") {
			t.Fatalf("first page:\n%s", first.body)
		}
		second := b.get("/admin/logs?page=1&type=sapi+fapi")
		if !strings.Contains(second.body, `rel="prev"`) || !strings.Contains(second.body, "Management change") || strings.Contains(second.body, `id="tail"`) {
			t.Fatalf("second page:\n%s", second.body)
		}
	})

	t.Run("event", func(t *testing.T) {
		l := logLinkRE.FindStringSubmatch(list.body)
		if l == nil {
			t.Fatalf("no event link:\n%s", list.body)
		}
		p := b.get("/admin/logs/" + l[1])
		if p.status != 200 || !strings.Contains(p.body, `<code id="log-id">`+l[1]+`</code>`) {
			t.Fatalf("event %d:\n%s", p.status, p.body)
		}
		for _, id := range []string{"nope", "90000000000000000000000000000000000000000000000000000000"} {
			if p := b.get("/admin/logs/" + id); p.status != 404 {
				t.Fatalf("unknown event %s: %d\n%s", id, p.status, p.body)
			}
		}
	})

	t.Run("tail", func(t *testing.T) {
		from := m[1]
		// Events after the list was drawn: the blocks above, API changes.
		var all, logins tailAnswer
		deadline := time.Now().Add(5 * time.Second)
		for len(all.Events) == 0 && time.Now().Before(deadline) {
			_, all = b.tail(t, "from="+from)
			time.Sleep(50 * time.Millisecond)
		}
		if len(all.Events) == 0 || all.Next == from || !strings.HasPrefix(all.Events[0].URL, "/admin/logs/") {
			t.Fatalf("tail: %+v", all)
		}
		var changes int
		for _, ev := range all.Events {
			if strings.HasPrefix(ev.Type, "Management change") {
				changes++
			}
		}
		if changes == 0 {
			t.Fatalf("no management change in the tail: %+v", all)
		}
		_, logins = b.tail(t, "type=s&from="+from)
		for _, ev := range logins.Events {
			if ev.Type != "Login (s)" {
				t.Fatalf("the type filter let %q through", ev.Type)
			}
		}
		if logins.Next == from {
			t.Fatal("a filtered tail does not move its checkpoint")
		}
		if status, _ := b.tail(t, "from=bad"); status != http.StatusBadRequest {
			t.Fatalf("bad checkpoint: %d", status)
		}
		// Signed out, the script gets no events (a redirect to sign in).
		noSession := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noSession.Get(e.srv.URL + "/admin/logs/tail?from=" + from)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 {
			t.Fatalf("tail without a session: %d", resp.StatusCode)
		}
	})
}

var totalRE = regexp.MustCompile(`<span class="stat-value" id="chart-(\d)-total">(\d+)</span>`)

// TestDashboard: the last day's logins, failed logins and sign-ups are
// counted from the audit log, drawn as SVG bars and given as text.
func TestDashboard(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", mgmt.AdminFull)
	// A failed login: a wrong password.
	other := e.browser()
	login := other.get("/admin/")
	other.post("/u/login", url.Values{"csrf": {login.hidden(t, "csrf")}, "req": {login.hidden(t, "req")},
		"email": {"admin@example.com"}, "password": {"wrong password"}})
	b := e.browser()
	b.signIn("admin@example.com")
	var totals map[string]int
	deadline := time.Now().Add(5 * time.Second)
	var p page
	for {
		p = b.get("/admin/")
		totals = map[string]int{}
		for _, m := range totalRE.FindAllStringSubmatch(p.body, -1) {
			totals[m[1]], _ = strconv.Atoi(m[2])
		}
		if totals["0"] >= 1 && totals["1"] >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p.status != 200 || totals["0"] != 1 || totals["1"] != 1 || totals["2"] != 0 {
		t.Fatalf("totals %v (%d):\n%s", totals, p.status, p.body)
	}
	if strings.Count(p.body, "<svg ") != 3 || !strings.Contains(p.body, `class="bar bar-logins"`) ||
		!strings.Contains(p.body, `role="img"`) || strings.Contains(p.body, "style=") || !strings.Contains(p.body, "The counts by hour") {
		t.Fatalf("charts:\n%s", p.body)
	}
	// The bar of this hour is the highest of the logins chart.
	if !strings.Contains(p.body, `height="110" class="bar bar-logins"`) {
		t.Fatalf("no full bar for this hour's login:\n%s", p.body)
	}
}
