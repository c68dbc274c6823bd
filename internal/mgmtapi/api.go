package mgmtapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v2"

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

// Verifier checks bearer tokens (token.Keys).
type Verifier interface {
	VerifyAccess(ctx context.Context, raw, issuer string, now time.Time) (token.AccessClaims, error)
}

// Config wires an API.
type Config struct {
	Service *mgmt.Service
	Tokens  Verifier
	Issuer  string
	Log     *slog.Logger
	Now     func() time.Time
	// Audit records each operation that changes something; nil records
	// nothing.
	Audit audit.Recorder

	// Jobs runs bulk user imports and exports; without it the jobs routes
	// answer 501.
	Jobs *mgmt.Jobs
}

// API is the /api/v2 handler.
type API struct {
	svc      *mgmt.Service
	jobs     *mgmt.Jobs
	tokens   Verifier
	issuer   string
	audience string
	log      *slog.Logger
	now      func() time.Time
	routes   []*Route
	doc      []byte // the OpenAPI document, JSON
	audit    audit.Recorder
}

// Route is one operation of the API.
type Route struct {
	Method string
	// Path is relative to Prefix, in net/http pattern syntax
	// ("/users/{id}").
	Path string
	// Scopes are the scopes of which the caller's token needs one.
	Scopes []string
	// Summary says what the operation does (the OpenAPI summary and the
	// audit log's description).
	Summary string
	handle  handlerFunc

	// The OpenAPI description: the request body's type, and the success
	// status with the response body's type (nil for none); a list names
	// the key of its include_totals form.
	request  any
	status   int
	response any
	listKey  string
	// checkpoint: the list also takes from and take (see writeList).
	checkpoint bool

	// muxPath, when set, is the pattern the route is served under instead
	// of Path: for a path net/http's mux finds ambiguous with another
	// route's (see servedAs).
	muxPath string
}

// accepts documents the JSON request body: v is a value of its Go type.
func (rt *Route) accepts(v any) *Route { rt.request = v; return rt }

// returns documents the success answer: its status and a value of the Go
// type of its body (nil for none).
func (rt *Route) returns(status int, v any) *Route { rt.status, rt.response = status, v; return rt }

// lists documents a paged list of items (see writePage) under key.
func (rt *Route) lists(key string, item any) *Route {
	rt.status, rt.response, rt.listKey = http.StatusOK, item, key
	return rt
}

// handlerFunc serves one route; a returned error is written in Auth0's
// shape (see writeError).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// New returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Service == nil || cfg.Tokens == nil || cfg.Issuer == "" {
		return nil, errors.New("mgmtapi: service, token verifier and issuer are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{svc: cfg.Service, tokens: cfg.Tokens, issuer: cfg.Issuer,
		audience: store.ManagementAudience(cfg.Issuer), log: cfg.Log, now: cfg.Now, audit: cfg.Audit}
	// Each resource adds its routes; one line each.
	a.userRoutes()
	a.clientRoutes()
	a.clientGrantRoutes()
	a.connectionRoutes()
	a.organizationRoutes()
	a.ticketRoutes()
	a.signingKeyRoutes()
	a.rbacRoutes()
	a.logRoutes()
	a.jobRoutes(cfg.Jobs)

	doc, err := a.openAPI()
	if err != nil {
		return nil, fmt.Errorf("mgmtapi: OpenAPI document: %w", err)
	}
	if a.doc, err = json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("mgmtapi: OpenAPI document: %w", err)
	}
	return a, nil
}

// Routes returns the API's operations.
func (a *API) Routes() []Route {
	out := make([]Route, len(a.routes))
	for i, rt := range a.routes {
		out[i] = *rt
	}
	return out
}

// add declares a route; the returned Route takes its OpenAPI description
// (accepts, returns, lists).
func (a *API) add(method, path, summary string, h handlerFunc, scopes ...string) *Route {
	rt := &Route{Method: method, Path: path, Scopes: scopes, Summary: summary, handle: h, status: http.StatusOK}
	a.routes = append(a.routes, rt)
	return rt
}

// Mount registers the routes on mux.
func (a *API) Mount(mux *http.ServeMux) {
	for _, rt := range a.routes {
		path := rt.Path
		if rt.muxPath != "" {
			path = rt.muxPath
		}
		mux.Handle(rt.Method+" "+Prefix+path, a.serve(rt))
	}
	// The description of the API is public: it holds no data.
	mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(a.doc)
	})
	a.mountJobFiles(mux)
	// Anything else under the prefix, a known path with another method
	// included, is answered in the API's shape.
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if allowed := a.allowed(r); len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			writeError(w, &mgmt.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)})
			return
		}
		writeError(w, &mgmt.Error{Status: http.StatusNotFound, Code: "not_found", Message: "Not Found"})
	})
}

// allowed returns the methods of the routes whose path matches r's.
func (a *API) allowed(r *http.Request) []string {
	var methods []string
	for _, rt := range a.routes {
		probe := http.NewServeMux()
		probe.Handle(rt.Method+" "+Prefix+rt.Path, http.NotFoundHandler())
		pr := r.Clone(r.Context())
		pr.Method = rt.Method
		if _, pat := probe.Handler(pr); pat != "" && !slices.Contains(methods, rt.Method) {
			methods = append(methods, rt.Method)
		}
	}
	return methods
}

// Caller is the application calling the API.
type Caller struct {
	ClientID string
	// UserID is the admin for whom the admin console calls; "" for an
	// application calling on its own behalf.
	UserID string
	Scopes []string
}

type callerKey struct{}

// CallerOf returns the authenticated caller of a request.
func CallerOf(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// serve authenticates the caller, checks the route's scope and runs it.
func (a *API) serve(rt *Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		caller, err := a.authenticate(r, rt)
		if err != nil {
			if e := (*mgmt.Error)(nil); errors.As(err, &e) && e.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+a.audience+`"`)
			}
			writeError(w, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, caller))
		err = rt.handle(w, r)
		a.recordOperation(r, rt, caller, err)
		if err != nil {
			a.fail(w, r, err)
		}
	})
}

// authenticate checks the bearer token: a token of this server for the
// management API, from client_credentials, with one of the route's scopes.
func (a *API) authenticate(r *http.Request, rt *Route) (Caller, error) {
	raw, ok := bearer(r)
	if !ok {
		return Caller{}, &mgmt.Error{Status: http.StatusUnauthorized, Code: "missing_authentication", Message: "Missing authentication"}
	}
	c, err := a.tokens.VerifyAccess(r.Context(), raw, a.issuer, a.now())
	if errors.Is(err, store.ErrUnavailable) {
		return Caller{}, err
	}
	if err != nil {
		return Caller{}, &mgmt.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "Invalid token"}
	}
	if !c.HasAudience(a.audience) {
		return Caller{}, &mgmt.Error{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "Bad audience: " + strings.Join(c.Audience, " ")}
	}
	scopes := c.Scopes()
	var userID string
	switch {
	case c.GrantType == mgmt.ConsoleGrantType && c.ClientID == mgmt.ConsoleClientID && !strings.HasSuffix(c.Subject, "@clients"):
		// The admin console's token for its signed-in admin: the role is
		// checked again at every call, so taking it away, or blocking
		// the user, takes effect at once.
		level, err := a.svc.AdminLevelOf(r.Context(), c.Subject)
		if err != nil {
			return Caller{}, err
		}
		if level == mgmt.AdminNone {
			return Caller{}, &mgmt.Error{Status: http.StatusForbidden, Code: "insufficient_scope", Message: "The user is no longer an admin"}
		}
		allowed := level.Scopes()
		scopes = slices.DeleteFunc(scopes, func(s string) bool { return !slices.Contains(allowed, s) })
		userID = c.Subject
	case c.ClientID != "" && c.Subject == c.ClientID+"@clients":
		// Otherwise only applications hold management tokens:
		// client_credentials names the application as the subject.
	default:
		return Caller{}, &mgmt.Error{Status: http.StatusForbidden, Code: "insufficient_scope", Message: "The management API takes tokens from client_credentials only"}
	}
	if len(rt.Scopes) > 0 && !slices.ContainsFunc(rt.Scopes, func(s string) bool { return slices.Contains(scopes, s) }) {
		return Caller{}, &mgmt.Error{Status: http.StatusForbidden, Code: "insufficient_scope",
			Message: "Insufficient scope, expected any of: " + strings.Join(rt.Scopes, ",")}
	}
	return Caller{ClientID: c.ClientID, UserID: userID, Scopes: scopes}, nil
}

// bearer returns the token of an Authorization: Bearer header (RFC 6750
// §2.1; the scheme is case-insensitive).
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// fail writes an error a handler returned: a *mgmt.Error as it is, the
// store being down as 503, anything else as a logged 500 that says
// nothing of its cause.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var me *mgmt.Error
	switch {
	case errors.As(err, &me):
		writeError(w, me)
	case errors.Is(err, store.ErrUnavailable):
		a.log.Warn("management API: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, &mgmt.Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Message: "The database is unavailable; retry later"})
	default:
		a.log.Error("management API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, &mgmt.Error{Status: http.StatusInternalServerError, Code: "internal_error", Message: "Internal error"})
	}
}

// apiError is the error body of the management API.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Message    string `json:"message"`
	ErrorCode  string `json:"errorCode,omitempty"`
	// Field names the input at fault by its API name, when one is (a
	// Gatehouse addition: the admin console shows the message beside it).
	Field string `json:"field,omitempty"`
}

// writeError writes err in the API's error shape; err is a *mgmt.Error or
// store.ErrUnavailable (authenticate's).
func writeError(w http.ResponseWriter, err error) {
	var me *mgmt.Error
	if !errors.As(err, &me) {
		me = &mgmt.Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Message: "The database is unavailable; retry later"}
	}
	writeJSON(w, me.Status, apiError{StatusCode: me.Status, Error: http.StatusText(me.Status), Message: me.Message, ErrorCode: me.Code, Field: me.Field})
}

// writeJSON writes v as the JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"statusCode":500,"error":"Internal Server Error","message":"Internal error","errorCode":"internal_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// noContent answers a deletion.
func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// badRequest is a 400 with the API's validation errorCode.
func badRequest(format string, args ...any) error {
	return &mgmt.Error{Status: http.StatusBadRequest, Code: mgmt.CodeInvalidBody, Message: fmt.Sprintf(format, args...)}
}

// decode reads a JSON object body into v, refusing unknown fields, a
// second value, and bodies over maxBody, with a message that names the
// problem.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &mgmt.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
	case errors.As(err, &tooBig):
		return &mgmt.Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Message: fmt.Sprintf("Payload too large: at most %d bytes", maxBody)}
	case errors.Is(err, io.EOF):
		return badRequest("Payload validation error: a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("Payload validation error: invalid JSON")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("Payload validation error: a JSON object is required")
		}
		return badRequest("Payload validation error: 'Expected type %s but found type %s' on property %s",
			jsonType(typeErr.Type.String()), typeErr.Value, typeErr.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return badRequest("Payload validation error: 'Additional properties not allowed: %s'", strings.Trim(name, `"`))
	default:
		return badRequest("Payload validation error: %v", err)
	}
	if dec.More() {
		return badRequest("Payload validation error: one JSON object is expected")
	}
	return nil
}

// jsonType names a Go type as JSON Schema would.
func jsonType(goType string) string {
	switch {
	case goType == "string" || strings.HasSuffix(goType, "*string"):
		return "string"
	case goType == "bool" || strings.HasSuffix(goType, "*bool"):
		return "boolean"
	case strings.Contains(goType, "int") || strings.Contains(goType, "float"):
		return "number"
	case strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "*[]"):
		return "array"
	}
	return "object"
}

// Pagination.

// defaultPerPage and maxPerPage are the page sizes of the hosted service.
const (
	defaultPerPage = 50
	maxPerPage     = 100
)

// page is the pagination of a list request.
type page struct {
	Page, PerPage int
	IncludeTotals bool
}

func (p page) offset() int { return p.Page * p.PerPage }

// pageOf reads page, per_page and include_totals.
func pageOf(r *http.Request) (page, error) {
	q := r.URL.Query()
	p := page{PerPage: defaultPerPage}
	var err error
	if v := q.Get("page"); v != "" {
		if p.Page, err = strconv.Atoi(v); err != nil || p.Page < 0 || p.Page > 1_000_000 {
			return page{}, badRequest("Query validation error: 'page' must be an integer from 0")
		}
	}
	if v := q.Get("per_page"); v != "" {
		if p.PerPage, err = strconv.Atoi(v); err != nil || p.PerPage < 1 || p.PerPage > maxPerPage {
			return page{}, badRequest("Query validation error: 'per_page' must be an integer from 1 to %d", maxPerPage)
		}
	}
	if v := q.Get("include_totals"); v != "" {
		if p.IncludeTotals, err = strconv.ParseBool(v); err != nil {
			return page{}, badRequest("Query validation error: 'include_totals' must be true or false")
		}
	}
	return p, nil
}

// writePage writes one page of a list: the bare array, or with
// include_totals the object {start, limit, length, total, <key>: [...]}.
func writePage[T any](w http.ResponseWriter, p page, key string, items []T, total int) {
	if items == nil {
		items = []T{}
	}
	if !p.IncludeTotals {
		writeJSON(w, http.StatusOK, items)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"start": p.offset(), "limit": p.PerPage, "length": len(items), "total": total, key: items,
	})
}

// listPage answers a list route whose items are loaded whole: it refuses
// query parameters other than the page's, loads the items, turns each into
// its JSON and writes the requested page under key.
func listPage[T, J any](w http.ResponseWriter, r *http.Request, key string, load func() ([]T, error), toJSON func(T) J) error {
	if err := checkQuery(r, "page", "per_page", "include_totals"); err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, err := load()
	if err != nil {
		return err
	}
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = toJSON(it)
	}
	pageSlice(w, p, key, out)
	return nil
}

// pageSlice is writePage for a list held whole in memory.
func pageSlice[T any](w http.ResponseWriter, p page, key string, all []T) {
	start := min(p.offset(), len(all))
	end := min(start+p.PerPage, len(all))
	writePage(w, p, key, all[start:end], len(all))
}

// timestamp formats a time as the API does (RFC 3339 in UTC with
// milliseconds); the zero time is omitted by the callers.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// optTimestamp is timestamp for a time that may be unset.
func optTimestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timestamp(t)
	return &s
}
