package mgmtapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// The audit log: search it, read one event, follow it by checkpoint; and
// record every operation of the API that changes something.

func (a *API) logRoutes() {
	a.add("GET", "/logs", "Search log events", a.listLogs, "read:logs").lists("logs", audit.Event{})
	a.add("GET", "/logs/{id}", "Get a log event by id", a.getLog, "read:logs").returns(200, audit.Event{})
	a.add("GET", "/users/{id}/logs", "Get a user's log events", a.listUserLogs, "read:logs", "read:logs_users").lists("logs", audit.Event{})
}

// defaultTake is the number of events of a checkpoint read without take.
const defaultTake = 50

// listLogs serves GET /logs: a search (q, sort, page, per_page,
// include_totals) or, with from, a checkpoint read (from, take) that
// ignores every other parameter, as the hosted service does, and links
// the next read.
func (a *API) listLogs(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "q", "page", "per_page", "include_totals", "sort", "from", "take"); err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Has("from") {
		return a.logsFrom(w, r)
	}
	if q.Has("take") {
		return badRequest("Query validation error: 'take' is used with 'from'")
	}
	f, err := audit.ParseQuery(q.Get("q"))
	var qe *audit.QueryError
	if errors.As(err, &qe) {
		return badRequest("Query validation error: %s", qe.Message)
	}
	if err != nil {
		return err
	}
	return a.searchLogs(w, r, f)
}

// searchLogs writes one page of the events f selects, in the request's
// sort and page.
func (a *API) searchLogs(w http.ResponseWriter, r *http.Request, f store.LogFilter) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	switch s := r.URL.Query().Get("sort"); s {
	case "", "date:-1":
	case "date:1":
		f.Ascending = true
	default:
		return badRequest("Query validation error: sort must be date:1 or date:-1, not %q", s)
	}
	f.Offset, f.Limit = p.offset(), p.PerPage
	events, total, err := a.svc.SearchLogs(r.Context(), f, p.IncludeTotals)
	var me *mgmt.Error
	if errors.As(err, &me) && me.Status == http.StatusBadRequest {
		return badRequest("Query validation error: %s", me.Message)
	}
	if err != nil {
		return err
	}
	writePage(w, p, "logs", logsJSON(events), total)
	return nil
}

// logsFrom serves a checkpoint read: the events after from, by commit
// order, with a Link to the next read (RFC 8288) after the last one.
func (a *API) logsFrom(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from := q.Get("from")
	if !audit.ValidID(from) {
		return badRequest("Query validation error: 'from' must be a log_id")
	}
	take := defaultTake
	if v := q.Get("take"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > mgmt.MaxLogPage {
			return badRequest("Query validation error: 'take' must be an integer from 1 to %d", mgmt.MaxLogPage)
		}
		take = n
	}
	events, err := a.svc.LogsFrom(r.Context(), from, take)
	if err != nil {
		return err
	}
	next := from
	if len(events) > 0 {
		next = events[len(events)-1].ID
	}
	link := url.Values{"from": {next}, "take": {strconv.Itoa(take)}}
	w.Header().Set("Link", "<"+strings.TrimSuffix(a.issuer, "/")+Prefix+"/logs?"+link.Encode()+`>; rel="next"`)
	writeJSON(w, http.StatusOK, logsJSON(events))
	return nil
}

func (a *API) getLog(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !audit.ValidID(id) {
		// Not the form of a log ID: no event has it.
		return &mgmt.Error{Status: http.StatusNotFound, Code: "inexistent_log", Message: "log " + strconv.Quote(id) + " not found"}
	}
	e, err := a.svc.GetLog(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, audit.FromStore(e))
	return nil
}

// listUserLogs serves GET /users/{id}/logs: the search of one user's
// events (sort, page, per_page, include_totals). A user deleted since
// still has their events.
func (a *API) listUserLogs(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "sort"); err != nil {
		return err
	}
	return a.searchLogs(w, r, store.LogFilter{UserID: r.PathValue("id")})
}

func logsJSON(events []store.LogEvent) []audit.Event {
	out := make([]audit.Event, len(events))
	for i, e := range events {
		out[i] = audit.FromStore(e)
	}
	return out
}

// recordOperation writes the audit event of a request that changes
// something (any method but GET): sapi, or fapi with the error's status
// and message, named by the route's summary, with the calling application
// and the client's address. Operations on a user name the user, so that
// the user's log shows what was done to the account. Request bodies are
// not recorded: they hold passwords and secrets.
func (a *API) recordOperation(r *http.Request, rt *Route, caller Caller, err error) {
	if a.audit == nil || rt.Method == http.MethodGet {
		return
	}
	status := rt.status
	e := audit.Event{Type: audit.TypeSuccessAPIOperation, Description: rt.Summary, ClientID: caller.ClientID,
		Scope: strings.Join(caller.Scopes, " ")}.FromRequest(r)
	if err != nil {
		e.Type = audit.TypeFailedAPIOperation
		var me *mgmt.Error
		switch {
		case errors.As(err, &me):
			status = me.Status
			e.Description = rt.Summary + ": " + me.Message
		case errors.Is(err, store.ErrUnavailable):
			status = http.StatusServiceUnavailable
		default:
			status = http.StatusInternalServerError
		}
	}
	if strings.HasPrefix(rt.Path, "/users/{id}") {
		e.UserID = r.PathValue("id")
	}
	if caller.UserID != "" {
		// An admin's call from the console is the admin's act; the user
		// acted on, if any, stays in the request's path.
		e.UserID = caller.UserID
	}
	if c, cerr := a.svc.GetClient(r.Context(), caller.ClientID); cerr == nil {
		e.ClientName = c.Name
	}
	e.Details = map[string]any{
		"request":  map[string]any{"method": r.Method, "path": r.URL.Path},
		"response": map[string]any{"statusCode": status},
	}
	a.audit.Record(e)
}
