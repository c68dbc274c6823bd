package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gatehouse/internal/mgmt"
)

// connRoutes are the Connections pages: the list, a new GitHub, OpenID
// Connect or OAuth 2.0 connection, a connection's settings (its secret
// write-only) and applications, and its deletion.
func (c *Console) connRoutes() {
	c.page("GET "+Prefix+"/connections", c.connsList)
	c.page("GET "+Prefix+"/connections/new", c.connNew)
	c.page("POST "+Prefix+"/connections", c.connCreate)
	c.page("GET "+Prefix+"/connections/{id}", c.connShow)
	c.page("POST "+Prefix+"/connections/{id}", c.connUpdate)
	c.page("GET "+Prefix+"/connections/{id}/delete", c.connDeleteConfirm)
	c.page("POST "+Prefix+"/connections/{id}/delete", c.connDelete)
	c.page("GET "+Prefix+"/connections/{id}/test", c.connTest)
}

// connection is what the pages read of the API's connection; the client
// secret is never in it.
type connection struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Strategy string `json:"strategy"`
	Options  struct {
		ClientID              string `json:"client_id"`
		Scope                 string `json:"scope"`
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
		BaseURL               string `json:"base_url"`
		APIURL                string `json:"api_url"`
	} `json:"options"`
	EnabledClients []string `json:"enabled_clients"`
}

// connFields are the form's inputs by the API's names.
var connFields = []string{"name", "strategy", "client_id", "client_secret", "scope", "issuer", "authorization_endpoint",
	"token_endpoint", "userinfo_endpoint", "base_url", "api_url", "enabled_clients"}

// connStrategies are the strategies the console creates.
var connStrategies = []struct{ Value, Label string }{
	{"github", "GitHub"}, {"oidc", "OpenID Connect"}, {"oauth2", "OAuth 2.0"},
}

type connForm struct {
	Name, Strategy, ClientID, ClientSecret, Scope, Issuer, AuthorizeURL, TokenURL, UserinfoURL, BaseURL, APIURL string
	Clients                                                                                                     []string
}

func formOfConn(c connection) connForm {
	o := c.Options
	return connForm{Name: c.Name, Strategy: c.Strategy, ClientID: o.ClientID, Scope: o.Scope, Issuer: o.Issuer,
		AuthorizeURL: o.AuthorizationEndpoint, TokenURL: o.TokenEndpoint, UserinfoURL: o.UserinfoEndpoint,
		BaseURL: o.BaseURL, APIURL: o.APIURL, Clients: c.EnabledClients}
}

func parseConnForm(r *http.Request) connForm {
	f := r.PostForm
	v := func(k string) string { return strings.TrimSpace(f.Get(k)) }
	return connForm{Name: v("name"), Strategy: v("strategy"), ClientID: v("client_id"), ClientSecret: v("client_secret"),
		Scope: v("scope"), Issuer: v("issuer"), AuthorizeURL: v("authorization_endpoint"), TokenURL: v("token_endpoint"),
		UserinfoURL: v("userinfo_endpoint"), BaseURL: v("base_url"), APIURL: v("api_url"), Clients: f["enabled_clients"]}
}

// options are the API's options of the form: those of its strategy, and
// the secret only when one was typed (it is write-only).
func (f connForm) options() map[string]any {
	o := map[string]any{"client_id": f.ClientID, "scope": f.Scope}
	if f.ClientSecret != "" {
		o["client_secret"] = f.ClientSecret
	}
	switch f.Strategy {
	case "oidc":
		o["issuer"] = f.Issuer
	case "oauth2":
		o["authorization_endpoint"], o["token_endpoint"], o["userinfo_endpoint"] = f.AuthorizeURL, f.TokenURL, f.UserinfoURL
	case "github":
		if f.BaseURL != "" || f.APIURL != "" {
			o["base_url"], o["api_url"] = f.BaseURL, f.APIURL
		}
	}
	return o
}

// HasClient reports whether the form enables the application.
func (f connForm) HasClient(id string) bool { return slices.Contains(f.Clients, id) }

type connsListPage struct {
	Page
	List  List
	Conns []connection
}

func (c *Console) connsList(w http.ResponseWriter, rq *Request) error {
	p := connsListPage{Page: rq.NewPage("Connections", "/connections"), List: ListOf(rq.Request)}
	if rq.URL.Query().Get("deleted") != "" {
		p.Notice = "The connection was deleted."
	}
	all, err := allOf[connection](rq, "/connections", "connections")
	if err != nil {
		return err
	}
	p.Conns = pageOf(&p.List, all, func(x connection, q string) bool { return contains(q, x.Name, x.Strategy) })
	rq.Render(w, http.StatusOK, "conns_list", p)
	return nil
}

type connPage struct {
	Page
	New        bool
	Conn       connection
	Form       connForm
	Apps       []application
	Strategies any
}

func (c *Console) newConnPage(rq *Request, title string) (connPage, error) {
	p := connPage{Page: rq.NewPage(title, "/connections"), Strategies: connStrategies}
	apps, err := allOf[application](rq, "/clients", "clients")
	p.Apps = apps
	return p, err
}

func (c *Console) connNew(w http.ResponseWriter, rq *Request) error {
	if rq.Admin.ReadOnly {
		return &APIError{Status: http.StatusForbidden, Message: "Your admin role is read-only: you cannot create connections."}
	}
	p, err := c.newConnPage(rq, "New connection")
	if err != nil {
		return err
	}
	p.New, p.Form = true, connForm{Strategy: "oidc", Scope: "openid profile email"}
	rq.Render(w, http.StatusOK, "conn", p)
	return nil
}

func (c *Console) connCreate(w http.ResponseWriter, rq *Request) error {
	p, err := c.newConnPage(rq, "New connection")
	if err != nil {
		return err
	}
	p.New, p.Form = true, parseConnForm(rq.Request)
	clients := p.Form.Clients
	if clients == nil {
		clients = []string{}
	}
	body := map[string]any{"name": p.Form.Name, "strategy": p.Form.Strategy, "options": p.Form.options(), "enabled_clients": clients}
	var made connection
	if err := rq.API.Post(rq.Context(), "/connections", body, &made); err != nil {
		if err := p.FormError(err, connFields...); err != nil {
			return err
		}
		p.Form.ClientSecret = "" // never sent back to the browser
		rq.Render(w, http.StatusBadRequest, "conn", p)
		return nil
	}
	http.Redirect(w, rq.Request, Prefix+"/connections/"+url.PathEscape(made.ID)+"?created=1", http.StatusSeeOther)
	return nil
}

func getConn(rq *Request) (connection, error) {
	var x connection
	err := rq.API.Get(rq.Context(), "/connections/"+PathEscape(rq.PathValue("id")), &x)
	return x, err
}

func (c *Console) connShow(w http.ResponseWriter, rq *Request) error {
	x, err := getConn(rq)
	if err != nil {
		return err
	}
	p, err := c.newConnPage(rq, x.Name)
	if err != nil {
		return err
	}
	p.Conn, p.Form = x, formOfConn(x)
	if rq.URL.Query().Get("created") != "" {
		p.Notice = "The connection was created."
	}
	rq.Render(w, http.StatusOK, "conn", p)
	return nil
}

func (c *Console) connUpdate(w http.ResponseWriter, rq *Request) error {
	x, err := getConn(rq)
	if err != nil {
		return err
	}
	p, err := c.newConnPage(rq, x.Name)
	if err != nil {
		return err
	}
	p.Conn, p.Form = x, parseConnForm(rq.Request)
	p.Form.Name, p.Form.Strategy = x.Name, x.Strategy
	clients := p.Form.Clients
	if clients == nil {
		clients = []string{}
	}
	body := map[string]any{"enabled_clients": clients}
	if x.Strategy != "auth0" {
		body["options"] = p.Form.options()
	}
	var updated connection
	if err := rq.API.Patch(rq.Context(), "/connections/"+PathEscape(x.ID), body, &updated); err != nil {
		if err := p.FormError(err, connFields...); err != nil {
			return err
		}
		p.Form.ClientSecret = ""
		rq.Render(w, http.StatusBadRequest, "conn", p)
		return nil
	}
	p.Conn, p.Form = updated, formOfConn(updated)
	p.Notice = "The changes were saved."
	rq.Render(w, http.StatusOK, "conn", p)
	return nil
}

func (c *Console) connDeleteConfirm(w http.ResponseWriter, rq *Request) error {
	x, err := getConn(rq)
	if err != nil {
		return err
	}
	path := Prefix + "/connections/" + url.PathEscape(x.ID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Delete "+x.Name, "/connections"),
		Message: "The connection " + x.Name + " is deleted: its users can no longer log in through it, and it leaves every application and organization. This cannot be undone.",
		Action:  path + "/delete", Button: "Delete the connection", Cancel: path, Danger: true})
	return nil
}

func (c *Console) connDelete(w http.ResponseWriter, rq *Request) error {
	if err := rq.API.Delete(rq.Context(), "/connections/"+PathEscape(rq.PathValue("id"))); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/connections?deleted=1", http.StatusSeeOther)
	return nil
}

// connTest starts a real login through the connection, in the tab the
// button opened: the console's own authorization request with
// connection=NAME and prompt=login. Its callback (testResult) shows the
// profile the login produced, or the error, and opens no session: the
// admin's console session is untouched. The console's application must
// be enabled for the connection (the result says so when it is not).
func (c *Console) connTest(w http.ResponseWriter, rq *Request) error {
	if rq.Admin.ReadOnly {
		// A login may create the user: a change.
		return &APIError{Status: http.StatusForbidden, Message: "Your admin role is read-only: you cannot test connections (a test login may create a user)."}
	}
	x, err := getConn(rq)
	if err != nil {
		return err
	}
	c.startLogin(w, rq.Request, Prefix+"/connections/"+url.PathEscape(x.ID), x.Name)
	return nil
}

type testPage struct {
	Page
	Connection  string
	Subject     string
	Email, Name string
	Failure     string
	Back        string
}

// testResult is the end of a "Test connection" login.
func (c *Console) testResult(w http.ResponseWriter, r *http.Request, p pendingLogin, q url.Values) {
	tp := testPage{Page: Page{Title: "Test of the connection " + p.Test}, Connection: p.Test, Back: safeNext(p.Next)}
	status := http.StatusOK
	switch {
	case q.Get("error") != "":
		tp.Failure = q.Get("error") + ": " + q.Get("error_description")
		if strings.Contains(q.Get("error_description"), "connection") {
			tp.Failure += " (Is the connection enabled for the application " + mgmt.ConsoleClientID + "?)"
		}
		status = http.StatusBadRequest
	case q.Get("code") == "":
		tp.Failure, status = "The login returned no code.", http.StatusBadRequest
	default:
		claims, err := c.exchange(r, q.Get("code"), p)
		if err != nil {
			c.cfg.Log.Warn("console: connection test refused", "connection", p.Test, "err", err)
			tp.Failure, status = "The login's code could not be exchanged for a valid ID token.", http.StatusBadRequest
		} else {
			tp.Subject, tp.Email, tp.Name = claims.Subject, claims.Email, claims.Name
		}
	}
	c.render(w, status, "conn_test", tp)
}
