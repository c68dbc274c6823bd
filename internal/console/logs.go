package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// logRoutes are the audit log's pages: the search with its filters, one
// event, and the tail the page's script polls for newer events.
func (c *Console) logRoutes() {
	c.page("GET "+Prefix+"/logs", c.logsList)
	c.page("GET "+Prefix+"/logs/tail", c.logsTail)
	c.page("GET "+Prefix+"/logs/{id}", c.logShow)
}

// logEvent is what the pages read of the API's log event.
type logEvent struct {
	LogID       string         `json:"log_id"`
	Date        string         `json:"date"`
	Type        string         `json:"type"`
	Description string         `json:"description"`
	IP          string         `json:"ip"`
	UserAgent   string         `json:"user_agent"`
	ClientID    string         `json:"client_id"`
	ClientName  string         `json:"client_name"`
	UserID      string         `json:"user_id"`
	UserName    string         `json:"user_name"`
	Connection  string         `json:"connection"`
	Details     map[string]any `json:"details"`
}

// logTypes are the choices of the type filter: the value is the event
// types it selects, separated by spaces.
var logTypes = []struct{ Value, Label string }{
	{"", "All events"}, {"s", "Successful logins"}, {"f fp fu", "Failed logins"}, {"ss", "Sign-ups"},
	{"fs", "Failed sign-ups"}, {"slo", "Logouts"}, {"sapi fapi", "Management changes"},
	{"seacft seccft sertft", "Token exchanges"}, {"limit_wc limit_mu", "Blocked attempts"},
	{"scp fcp scpr fcpr", "Password changes"},
}

// typeNames describe the common event types in the list.
var typeNames = map[string]string{
	"s": "Login", "f": "Failed login", "fp": "Wrong password", "fu": "Unknown user", "ss": "Sign-up",
	"fs": "Failed sign-up", "slo": "Logout", "sapi": "Management change", "fapi": "Failed management change",
	"seacft": "Code exchanged", "feacft": "Failed code exchange", "seccft": "Client credentials",
	"sertft": "Refresh", "limit_wc": "Account blocked (attempts)", "limit_mu": "Address blocked",
	"scp": "Password changed", "scpr": "Password link", "gd_auth_succeed": "Second factor",
	"gd_auth_failed": "Failed second factor",
}

// typeName is the event type for people, with its code.
func typeName(t string) string {
	if n, ok := typeNames[t]; ok {
		return n + " (" + t + ")"
	}
	return t
}

// logFilter is the filter form: a type choice, a user and an
// application, turned into the API's q.
type logFilter struct {
	Type, User, App string
}

func logFilterOf(r *http.Request) logFilter {
	q := r.URL.Query()
	f := logFilter{User: strings.TrimSpace(q.Get("user")), App: strings.TrimSpace(q.Get("app"))}
	for _, t := range logTypes {
		if t.Value == q.Get("type") {
			f.Type = t.Value
		}
	}
	return f
}

func quoteTerm(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// query is the API's q of the filter; user is the user ID to use (the
// filter's user, or the ID its email address found).
func (f logFilter) query(user string) string {
	var terms []string
	if f.Type != "" {
		terms = append(terms, "type:("+strings.Join(strings.Fields(f.Type), " OR ")+")")
	}
	if user != "" {
		terms = append(terms, "user_id:"+quoteTerm(user))
	}
	if f.App != "" {
		terms = append(terms, "client_id:"+quoteTerm(f.App))
	}
	return strings.Join(terms, " AND ")
}

// params are the filter's URL parameters, for links.
func (f logFilter) params() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"type": f.Type, "user": f.User, "app": f.App} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// matches tells whether the tail's event passes the filter (the API's
// checkpoint read does not filter).
func (f logFilter) matches(e logEvent, user string) bool {
	return (f.Type == "" || slices.Contains(strings.Fields(f.Type), e.Type)) &&
		(user == "" || e.UserID == user) && (f.App == "" || e.ClientID == f.App)
}

// userOf resolves the user filter: an email address is looked up (the
// first of its users), anything else is a user ID.
func userOf(rq *Request, f logFilter) (string, error) {
	if !strings.Contains(f.User, "@") || strings.Contains(f.User, "|") {
		return f.User, nil
	}
	var us []user
	if err := rq.API.Get(rq.Context(), "/users-by-email?"+url.Values{"email": {strings.ToLower(f.User)}}.Encode(), &us); err != nil {
		return "", err
	}
	if len(us) == 0 {
		return "", nil
	}
	return us[0].UserID, nil
}

// logPager is the pager of the log: a List whose links keep the filter.
type logPager struct {
	List
	filter logFilter
}

func (l logPager) link(page int) string {
	v := l.filter.params()
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return l.Path
	}
	return l.Path + "?" + v.Encode()
}

func (l logPager) PrevURL() string { return l.link(l.Page - 1) }
func (l logPager) NextURL() string { return l.link(l.Page + 1) }

type logsListPage struct {
	Page
	Filter   logFilter
	Types    []struct{ Value, Label string }
	Events   []logEvent
	Pager    logPager
	Newest   string // the log ID the tail starts after
	NewerURL string // the first page with the filter: the way to newer events without script
	NoUser   bool   // the user filter's email address matches no user
}

func (c *Console) logsList(w http.ResponseWriter, rq *Request) error {
	f := logFilterOf(rq.Request)
	l := ListOf(rq.Request)
	p := logsListPage{Page: rq.NewPage("Logs", "/logs"), Filter: f, Types: logTypes, Pager: logPager{List: l, filter: f}}
	p.NewerURL = logPager{List: List{Path: l.Path}, filter: f}.link(0)
	// The tail's script polls this console: the page allows its own
	// origin for fetch, which the server's default policy does not.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	uid, err := userOf(rq, f)
	if err != nil {
		return err
	}
	if f.User != "" && uid == "" {
		p.NoUser = true
		rq.Render(w, http.StatusOK, "logs_list", p)
		return nil
	}
	q := l.APIQuery("")
	if s := f.query(uid); s != "" {
		q.Set("q", s)
	}
	var out struct {
		Total int        `json:"total"`
		Logs  []logEvent `json:"logs"`
	}
	if err := rq.API.Get(rq.Context(), "/logs?"+q.Encode(), &out); err != nil {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			return err
		}
		p.Error = ae.Message
		rq.Render(w, http.StatusBadRequest, "logs_list", p)
		return nil
	}
	p.Events, p.Pager.Total = out.Logs, out.Total
	if l.Page == 0 && len(out.Logs) > 0 {
		p.Newest = out.Logs[0].LogID
	}
	rq.Render(w, http.StatusOK, "logs_list", p)
	return nil
}

// tailEvent is an event as the tail's script shows it: text only, which
// the script puts in with textContent.
type tailEvent struct {
	LogID string `json:"log_id"`
	URL   string `json:"url"`
	Date  string `json:"date"`
	Type  string `json:"type"`
	Desc  string `json:"description"`
	User  string `json:"user"`
	App   string `json:"app"`
}

// logsTail answers the page's script: the events after the checkpoint
// from (the newest the page shows), the filter's only, and the next
// checkpoint.
func (c *Console) logsTail(w http.ResponseWriter, rq *Request) error {
	from := rq.URL.Query().Get("from")
	f := logFilterOf(rq.Request)
	uid, err := userOf(rq, f)
	if err != nil {
		return err
	}
	var events []logEvent
	if err := rq.API.Get(rq.Context(), "/logs?"+url.Values{"from": {from}, "take": {"100"}}.Encode(), &events); err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			http.Error(w, ae.Message, ae.Status)
			return nil
		}
		return err
	}
	out := struct {
		Next   string      `json:"next"`
		Events []tailEvent `json:"events"`
	}{Next: from, Events: []tailEvent{}}
	for _, e := range events {
		out.Next = e.LogID
		if f.User != "" && uid == "" || !f.matches(e, uid) {
			continue
		}
		out.Events = append(out.Events, tailEvent{LogID: e.LogID, URL: Prefix + "/logs/" + url.PathEscape(e.LogID), Date: when(e.Date),
			Type: typeName(e.Type), Desc: e.Description, User: firstOf(e.UserName, e.UserID), App: firstOf(e.ClientName, e.ClientID)})
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(out)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

type logShowPage struct {
	Page
	Event   logEvent
	Details string
}

func (c *Console) logShow(w http.ResponseWriter, rq *Request) error {
	var e logEvent
	if err := rq.API.Get(rq.Context(), "/logs/"+PathEscape(rq.PathValue("id")), &e); err != nil {
		return err
	}
	p := logShowPage{Page: rq.NewPage(typeName(e.Type), "/logs"), Event: e}
	if len(e.Details) > 0 {
		p.Details = prettyJSON(e.Details)
	}
	rq.Render(w, http.StatusOK, "log_show", p)
	return nil
}

func init() {
	// The log's templates name event types for people.
	funcs["logtype"] = typeName
	funcs["when"] = when
}

// when shows an API timestamp for people: to the second, in UTC; what
// does not parse is shown as it is.
func when(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
