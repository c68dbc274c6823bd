package mgmtapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// logBase is the date of the first seeded event; each next one is a
// minute later.
var logBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seedLogs stores n events, one a minute from logBase, in date order:
// types s, fp, fu, sapi in turn, users ada and bob and clients app1 and
// app2 alternating. It returns their IDs in that order.
func (e *env) seedLogs(t *testing.T, n int) []string {
	t.Helper()
	types := []string{"s", "fp", "fu", "sapi"}
	var events []store.LogEvent
	var ids []string
	for i := range n {
		at := logBase.Add(time.Duration(i) * time.Minute)
		ev := store.LogEvent{ID: audit.NewID(at), Date: at, Type: types[i%4], Description: fmt.Sprint("event ", i),
			UserID: []string{"gatehouse|ada", "gatehouse|bob"}[i%2], ClientID: []string{"app1", "app2"}[i%3%2], IP: "192.0.2.1"}
		events = append(events, ev)
		ids = append(ids, ev.ID)
	}
	for len(events) > 0 {
		k := min(len(events), 25)
		if err := e.st.AppendLogs(t.Context(), events[:k]); err != nil {
			t.Fatal(err)
		}
		events = events[k:]
	}
	return ids
}

// logIDs decodes a list of events and returns their IDs.
func logIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var events []audit.Event
	if err := json.Unmarshal(body, &events); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.LogID
	}
	return ids
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestLogsAuthorization(t *testing.T) {
	e := newEnv(t)
	ids := e.seedLogs(t, 3)
	routes := []string{"/api/v2/logs", "/api/v2/logs/" + ids[0], "/api/v2/users/" + url.PathEscape("gatehouse|ada") + "/logs"}
	tests := []struct {
		name   string
		tok    string
		status []int // per route
	}{
		{"no token", "", []int{401, 401, 401}},
		{"wrong audience", e.tokenWith(t, map[string]any{"aud": "https://api.example", "scope": "read:logs"}), []int{401, 401, 401}},
		{"another scope", e.token(t, "read:users"), []int{403, 403, 403}},
		{"read:logs", e.token(t, "read:logs"), []int{200, 200, 200}},
		{"read:logs_users reads a user's logs only", e.token(t, "read:logs_users"), []int{403, 403, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, path := range routes {
				status, body := e.do(t, "GET", path, nil, tt.tok)
				if status != tt.status[i] {
					t.Errorf("GET %s: %d, want %d: %s", path, status, tt.status[i], body)
				}
			}
		})
	}
}

func TestSearchLogs(t *testing.T) {
	e := newEnv(t)
	ids := e.seedLogs(t, 120)
	newest := reversed(ids)
	pick := func(keep func(i int) bool) []string { // newest first
		var out []string
		for i := len(ids) - 1; i >= 0; i-- {
			if keep(i) {
				out = append(out, ids[i])
			}
		}
		return out
	}
	tok := e.token(t, "read:logs")
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"default page", "", newest[:50]},
		{"a later page", "per_page=10&page=2", newest[20:30]},
		{"oldest first", "sort=date:1&per_page=3", ids[:3]},
		{"newest first, said", "sort=date:-1&per_page=2", newest[:2]},
		{"one type", "per_page=100&q=type:fp", pick(func(i int) bool { return i%4 == 1 })},
		{"types and user", `per_page=100&q=type:(fp OR fu) AND user_id:"gatehouse|ada"`,
			pick(func(i int) bool { return (i%4 == 1 || i%4 == 2) && i%2 == 0 })},
		{"client", `per_page=100&q=client_id:"app2"`, pick(func(i int) bool { return i%3%2 == 1 })},
		{"date range", "q=date:[2026-01-01T00:10:00Z TO 2026-01-01T00:19:00Z]", pick(func(i int) bool { return i >= 10 && i <= 19 })},
		{"a day", "per_page=100&q=date:2026-01-02", nil},
		{"page at the end of the window", "page=19&per_page=50", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			status, body := e.do(t, "GET", "/api/v2/logs?"+q.Encode(), nil, tok)
			if status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			if got := logIDs(t, body); !slices.Equal(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
				t.Fatalf("got %d events %v\nwant %d %v", len(got), got, len(tt.want), tt.want)
			}
		})
	}

	t.Run("totals", func(t *testing.T) {
		var out struct {
			Start, Limit, Length, Total int
			Logs                        []audit.Event
		}
		e.call(t, "GET", "/api/v2/logs?include_totals=true&per_page=5&page=1&q=type:s", nil, 200, &out)
		if out.Start != 5 || out.Limit != 5 || out.Length != 5 || out.Total != 30 || len(out.Logs) != 5 {
			t.Fatalf("totals: %+v", out)
		}
		ev := out.Logs[0]
		if ev.Type != "s" || ev.LogID != ids[96] || ev.IP != "192.0.2.1" || ev.Date.IsZero() {
			t.Fatalf("event: %+v", ev)
		}
	})

	errs := []struct {
		name, query, msg string
	}{
		{"bad q", "q=email:x", "cannot be searched"},
		{"q with OR between terms", "q=type:s OR type:f", "joined by AND"},
		{"per_page too big", "per_page=101", "per_page"},
		{"per_page zero", "per_page=0", "per_page"},
		{"negative page", "page=-1", "page"},
		{"past the search window", "page=20&per_page=50", "first 1000 results"},
		{"empty date range", "q=date:[2026-01-02 TO 2026-01-01]", "date range is empty"},
		{"sort by another field", "sort=type:1", "sort must be date:1 or date:-1"},
		{"fields are not supported", "fields=type", "Additional properties not allowed: fields"},
		{"unknown parameter", "search_engine=v3", "Additional properties not allowed"},
		{"take without from", "take=5", "'take' is used with 'from'"},
		{"from is not a log id", "from=abc", "'from' must be a log_id"},
		{"take zero", "from=" + ids[0] + "&take=0", "'take' must be an integer from 1 to 100"},
		{"take too big", "from=" + ids[0] + "&take=101", "'take' must be an integer from 1 to 100"},
		{"take not a number", "from=" + ids[0] + "&take=x", "'take'"},
		{"bad include_totals", "include_totals=maybe", "include_totals"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			status, body := e.do(t, "GET", "/api/v2/logs?"+q.Encode(), nil, tok)
			wantError(t, status, body, 400, tt.msg)
		})
	}
}

// TestLogsCheckpoint follows the log with from and take through the Link
// header: every event, in commit order, an event committed late with an
// early date included.
func TestLogsCheckpoint(t *testing.T) {
	e := newEnv(t)
	ids := e.seedLogs(t, 60)
	late := store.LogEvent{ID: audit.NewID(logBase.Add(-time.Hour)), Date: logBase.Add(-time.Hour), Type: "s"}
	if err := e.st.AppendLogs(t.Context(), []store.LogEvent{late}); err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(ids[1:]), late.ID)
	tok := e.token(t, "read:logs")
	next := "/api/v2/logs?from=" + ids[0] + "&take=25&q=type:s" // q is ignored
	var got []string
	for range 10 {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+next, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page []audit.Event
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", next, resp.StatusCode, err)
		}
		link := resp.Header.Get("Link")
		if !strings.HasPrefix(link, "<"+e.issuer+"/api/v2/logs?from=") || !strings.HasSuffix(link, `>; rel="next"`) {
			t.Fatalf("Link %q", link)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 25 {
			t.Fatalf("a page of %d", len(page))
		}
		for _, ev := range page {
			got = append(got, ev.LogID)
		}
		u, _ := url.Parse(strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`))
		next = u.RequestURI()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("followed %d events, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	// A checkpoint older than every event kept starts at the oldest.
	status, body := e.do(t, "GET", "/api/v2/logs?from="+audit.NewID(logBase.Add(-24*time.Hour))+"&take=2", nil, tok)
	if got := logIDs(t, body); status != 200 || !slices.Equal(got, ids[:2]) {
		t.Fatalf("from before every event: %d %v", status, got)
	}
}

func TestGetLog(t *testing.T) {
	e := newEnv(t)
	ids := e.seedLogs(t, 2)
	var ev audit.Event
	e.call(t, "GET", "/api/v2/logs/"+ids[1], nil, 200, &ev)
	if ev.LogID != ids[1] || ev.Type != "fp" || ev.UserID != "gatehouse|bob" || !ev.Date.Equal(logBase.Add(time.Minute)) {
		t.Fatalf("event: %+v", ev)
	}
	tok := e.token(t, "read:logs")
	for _, id := range []string{audit.NewID(time.Now()), "not-a-log-id", strings.Repeat("9", 32)} {
		status, body := e.do(t, "GET", "/api/v2/logs/"+id, nil, tok)
		wantError(t, status, body, 404, "not found")
		var b apiError
		_ = json.Unmarshal(body, &b)
		if b.ErrorCode != "inexistent_log" {
			t.Errorf("%s: errorCode %q", id, b.ErrorCode)
		}
	}
}

func TestUserLogs(t *testing.T) {
	e := newEnv(t)
	ids := e.seedLogs(t, 10)
	tok := e.token(t, "read:logs_users")
	path := "/api/v2/users/" + url.PathEscape("gatehouse|bob") + "/logs"
	status, body := e.do(t, "GET", path+"?per_page=2&page=1", nil, tok)
	if got := logIDs(t, body); status != 200 || !slices.Equal(got, []string{ids[5], ids[3]}) {
		t.Fatalf("bob's second page: %d %v", status, got)
	}
	var out struct {
		Total int
		Logs  []audit.Event
	}
	e.call(t, "GET", path+"?include_totals=true&sort=date:1", nil, 200, &out)
	if out.Total != 5 || len(out.Logs) != 5 || out.Logs[0].LogID != ids[1] {
		t.Fatalf("totals: %+v", out)
	}
	status, body = e.do(t, "GET", "/api/v2/users/"+url.PathEscape("gatehouse|nobody")+"/logs", nil, tok)
	if got := logIDs(t, body); status != 200 || len(got) != 0 {
		t.Fatalf("a user without events: %d %s", status, body)
	}
	status, body = e.do(t, "GET", path+"?q=type:s", nil, tok)
	wantError(t, status, body, 400, "Additional properties not allowed: q")
}

// TestOperationsRecorded: each operation that changes something records
// sapi or fapi with the route's summary, the calling application, the
// client's address and the user it was about; reads record nothing, and
// no password reaches the log.
func TestOperationsRecorded(t *testing.T) {
	e := newEnv(t)
	const password = "correct horse battery staple"
	u := e.createUser(t, "ada@example.com", map[string]any{"password": password})
	e.call(t, "GET", "/api/v2/users/"+url.PathEscape(u.UserID), nil, 200, nil)
	e.call(t, "PATCH", "/api/v2/users/"+url.PathEscape(u.UserID), map[string]any{"name": "Ada"}, 200, nil)
	status, body := e.do(t, "POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "ada@example.com", "password": password}, e.token(t, all...))
	wantError(t, status, body, 409, "")
	status, _ = e.do(t, "DELETE", "/api/v2/users/"+url.PathEscape(u.UserID), nil, e.token(t, "read:users"))
	if status != 403 {
		t.Fatalf("delete without the scope: %d", status)
	}
	if err := e.audit.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	events, err := e.st.ListLogs(t.Context(), store.LogFilter{Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range events {
		b, _ := json.Marshal(audit.FromStore(ev))
		if strings.Contains(string(b), password) {
			t.Errorf("an event holds the password: %s", b)
		}
		got = append(got, ev.Type+" "+ev.Description)
		if ev.ClientID != "m2m-app" || ev.IP != "127.0.0.1" || ev.UserAgent == "" {
			t.Errorf("%s: client %q, ip %q, user agent %q", ev.Type, ev.ClientID, ev.IP, ev.UserAgent)
		}
	}
	// A refused token is not the application's operation: not recorded.
	want := []string{"sapi Create a user", "sapi Update a user", "fapi Create a user: "}
	if len(got) != len(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("events %q, want %q", got, want)
		}
	}
	if upd := events[1]; upd.UserID != u.UserID || upd.Details["request"].(map[string]any)["method"] != "PATCH" {
		t.Errorf("update: %+v", upd)
	}
	if f := events[2]; f.Details["response"].(map[string]any)["statusCode"] != float64(409) {
		t.Errorf("fapi: %+v", f)
	}
}
