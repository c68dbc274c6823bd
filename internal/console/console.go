package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/token"
)

// Prefix is where the console is mounted.
const Prefix = "/admin"

// Session lifetimes: an idle console signs out after IdleTimeout, and
// any session after MaxAge, whatever its use.
const (
	IdleTimeout = 12 * time.Hour
	MaxAge      = 24 * time.Hour
)

//go:embed templates/*.html
var templateFS embed.FS

// Config wires a Console.
type Config struct {
	Issuer  string
	Service *mgmt.Service // the admin roles
	Keys    *token.Keys   // verifies ID tokens, signs the admin's API tokens
	// Binder gives the CSRF tokens of the console's forms, as it does
	// for the hosted pages.
	Binder authflow.Binder
	Secure bool // cookies over https only, with the __Host- prefix
	// Handler is the server's mux: the console calls /oauth/token and
	// /api/v2 on it in-process, with no network hop.
	Handler http.Handler
	Log     *slog.Logger
	Now     func() time.Time
	// IdleTimeout and MaxAge default to the package's constants.
	IdleTimeout, MaxAge time.Duration
}

// Console is the /admin handler set.
type Console struct {
	cfg    Config
	sealer *token.Sealer // seals the session and login cookies
	pages  map[string]*template.Template
	mux    *http.ServeMux // the console's own routes, under Prefix
}

// New returns the console; Mount registers it.
func New(cfg Config) (*Console, error) {
	if cfg.Issuer == "" || cfg.Service == nil || cfg.Keys == nil || cfg.Handler == nil {
		return nil, errors.New("console: issuer, service, keys and handler are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = IdleTimeout
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = MaxAge
	}
	sealer, err := token.NewSealer(cfg.Keys.DeriveKey("admin console session"))
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c := &Console{cfg: cfg, sealer: sealer, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	entries, err := templateFS.ReadDir("templates")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("console: parse template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	c.routes()
	return c, nil
}

// routes declares every route of the console; a page adds one line here.
func (c *Console) routes() {
	c.mux.HandleFunc("GET "+Prefix+"/login", c.login)
	c.mux.HandleFunc("GET "+Prefix+"/callback", c.callback)
	c.mux.HandleFunc("POST "+Prefix+"/logout", c.logout)
	c.page("GET "+Prefix+"/{$}", c.dashboard)
	c.appRoutes()
	c.userRoutes()
	c.logRoutes()
	c.apiRoutes()
	c.connRoutes()
	c.orgRoutes()
	c.keyRoutes()
	c.mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, http.StatusNotFound, "Page not found", "There is no such page in the console.")
	})
}

// Mount registers the console on mux.
func (c *Console) Mount(mux *http.ServeMux) {
	mux.Handle(Prefix+"/", c.mux)
	mux.Handle("GET "+Prefix, http.RedirectHandler(Prefix+"/", http.StatusFound))
}

// Admin is the signed-in operator.
type Admin struct {
	UserID   string
	Email    string
	ReadOnly bool
}

// Request is a console request of a signed-in admin: the page's
// handlers read the admin, call the API with API, and put CSRF in forms.
type Request struct {
	*http.Request
	Admin Admin
	API   *Client
	CSRF  string // the CSRF token every POST form carries as "csrf"
}

// handler serves a page; a returned error is shown by the adapter
// (see page): an *APIError with its status, anything else as a 500 that
// says nothing of its cause.
type handler func(w http.ResponseWriter, rq *Request) error

// page registers a handler that only signed-in admins reach: it checks
// the session and the admin role (again at every request, so a removed
// role takes effect at once), and for a POST the CSRF token first.
func (c *Console) page(pattern string, h handler) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, ok := c.session(r)
		if !ok {
			if r.Method != http.MethodGet {
				c.renderError(w, r, http.StatusUnauthorized, "Signed out", "Your console session has ended. Sign in again and repeat the change.")
				return
			}
			http.Redirect(w, r, Prefix+"/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		level, err := c.cfg.Service.AdminLevelOf(r.Context(), s.UserID)
		if err != nil {
			c.cfg.Log.Warn("console: admin role check failed", "err", err)
			c.renderError(w, r, http.StatusServiceUnavailable, "Unavailable", "The console cannot reach the database; retry later.")
			return
		}
		if level == mgmt.AdminNone {
			c.forbidden(w, r)
			return
		}
		if r.Method == http.MethodPost {
			if !c.parseForm(w, r) {
				return
			}
			if !c.cfg.Binder.CheckCSRF(r, r.PostForm.Get("csrf")) {
				c.renderError(w, r, http.StatusForbidden, "Form expired", "The form was not sent from this console session. Go back, reload the page and try again.")
				return
			}
		}
		c.touch(w, s)
		admin := Admin{UserID: s.UserID, Email: s.Email, ReadOnly: level == mgmt.AdminReadOnly}
		rq := &Request{Request: r, Admin: admin, CSRF: c.cfg.Binder.CSRFToken(w, r),
			API: &Client{console: c, admin: admin, level: level, from: r}}
		if err := h(w, rq); err != nil {
			c.fail(w, rq, err)
		}
	})
}

// fail shows an error a page returned.
func (c *Console) fail(w http.ResponseWriter, rq *Request, err error) {
	var ae *APIError
	if errors.As(err, &ae) {
		title := http.StatusText(ae.Status)
		if ae.Status == http.StatusForbidden && rq.Admin.ReadOnly {
			title = "Read-only access"
		}
		c.renderError(w, rq.Request, ae.Status, title, ae.Message)
		return
	}
	c.cfg.Log.Error("console page failed", "path", rq.URL.Path, "err", err)
	c.renderError(w, rq.Request, http.StatusInternalServerError, "Something went wrong", "The console could not show this page. The server log has the details.")
}

// Page is what the layout shows around every page's content.
type Page struct {
	Title  string
	Nav    string // the nav entry to mark current: its path under Prefix
	Admin  *Admin // nil on pages outside a session (403, errors)
	CSRF   string
	Notice string // a message of success, shown once
	Error  string // a message about the whole form
	// Fields are error messages by the form field (its name attribute)
	// they are about, shown beside it.
	Fields map[string]string
}

// FieldError returns the message about the field, "" for none.
func (p Page) FieldError(name string) string { return p.Fields[name] }

// CanEdit reports whether the admin may change things: edit controls are
// only rendered when it holds.
func (p Page) CanEdit() bool { return p.Admin != nil && !p.Admin.ReadOnly }

// NewPage starts the page of a signed-in admin.
func (rq *Request) NewPage(title, nav string) Page {
	a := rq.Admin
	return Page{Title: title, Nav: nav, Admin: &a, CSRF: rq.CSRF}
}

// FormError puts an API error about the input (400, 409) on the page:
// beside its field when the API named one the form has, above the form
// otherwise. Any other error (a refusal, a missing record, the database
// down) it returns, for the adapter to show as a page of its own.
func (p *Page) FormError(err error, formFields ...string) error {
	var ae *APIError
	if !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusConflict) {
		return err
	}
	for _, f := range formFields {
		if f == ae.Field {
			if p.Fields == nil {
				p.Fields = map[string]string{}
			}
			p.Fields[f] = ae.Message
			p.Error = "The form has an error: see below."
			return nil
		}
	}
	p.Error = ae.Message
	return nil
}

// navItems are the console's sections, in the nav's order.
var navItems = []struct{ Path, Label string }{
	{"/", "Dashboard"}, {"/applications", "Applications"}, {"/apis", "APIs"}, {"/users", "Users"},
	{"/connections", "Connections"}, {"/organizations", "Organizations"}, {"/keys", "Signing keys"}, {"/logs", "Logs"},
}

var funcs = template.FuncMap{
	"nav": func() any { return navItems },
	// invalid marks an input whose field has an error: aria-invalid and
	// described by the message's element (id "err-NAME").
	"invalid": func(p Page, name string) template.HTMLAttr {
		if p.Fields[name] == "" {
			return ""
		}
		return template.HTMLAttr(`aria-invalid="true" aria-describedby="err-` + template.HTMLEscapeString(name) + `"`)
	},
	// errorfor is the message beside an input, when its field has one.
	"errorfor": func(p Page, name string) template.HTML {
		msg := p.Fields[name]
		if msg == "" {
			return ""
		}
		return template.HTML(`<p class="field-error" id="err-` + template.HTMLEscapeString(name) + `">` +
			template.HTMLEscapeString(msg) + `</p>`)
	},
	"list": func(xs ...string) []string { return xs },
	"apptypes": func() map[string]string {
		return map[string]string{"regular_web": "Regular web application", "spa": "Single-page application",
			"native": "Native application", "non_interactive": "Machine to machine"}
	},
	"authmethods": func() []string {
		return []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
	},
}

// render writes the page template name with data, which embeds Page.
func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	t, ok := c.pages[name]
	if !ok {
		c.cfg.Log.Error("console: no template", "name", name)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		c.cfg.Log.Error("console: render", "page", name, "err", err)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Render writes a page of a signed-in admin's request.
func (rq *Request) Render(w http.ResponseWriter, status int, name string, data any) {
	rq.API.console.render(w, status, name, data)
}

type messagePage struct {
	Page
	Message string
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	c.render(w, status, "message", messagePage{Page: Page{Title: title}, Message: msg})
}

// forbidden is the page of a signed-in user who is no admin: it says no
// more than that.
func (c *Console) forbidden(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusForbidden, "forbidden", messagePage{Page: Page{Title: "Access denied"}})
}

// MaxFormBytes bounds a console form's body. The largest form, a user's
// metadata, is far below it (the API refuses metadata over 16 KB).
const MaxFormBytes = 256 << 10

// parseForm reads a POST form of at most MaxFormBytes; it answers 413 for
// a larger body and 400 for one that does not parse, and reports whether
// the form can be used.
func (c *Console) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	err := r.ParseForm()
	if err == nil {
		return true
	}
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		c.renderError(w, r, http.StatusRequestEntityTooLarge, "Form too large", "The form is larger than the console accepts (256 KiB).")
		return false
	}
	c.renderError(w, r, http.StatusBadRequest, "Bad form", "The form could not be read. Go back, reload the page and try again.")
	return false
}
