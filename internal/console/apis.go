package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// apiRoutes are the APIs (resource servers) pages: the list, a new API,
// an API's scopes, RBAC switches and token lifetime, and its deletion.
func (c *Console) apiRoutes() {
	c.page("GET "+Prefix+"/apis", c.apisList)
	c.page("GET "+Prefix+"/apis/new", c.apiNew)
	c.page("POST "+Prefix+"/apis", c.apiCreate)
	c.page("GET "+Prefix+"/apis/{id}", c.apiShow)
	c.page("POST "+Prefix+"/apis/{id}", c.apiUpdate)
	c.page("GET "+Prefix+"/apis/{id}/delete", c.apiDeleteConfirm)
	c.page("POST "+Prefix+"/apis/{id}/delete", c.apiDelete)
}

type apiScope struct {
	Value       string `json:"value"`
	Description string `json:"description"`
}

// resourceServer is what the pages read of the API's resource server.
type resourceServer struct {
	ID              string     `json:"id"`
	Name            string     `json:"name"`
	Identifier      string     `json:"identifier"`
	IsSystem        bool       `json:"is_system"`
	Scopes          []apiScope `json:"scopes"`
	SigningAlg      string     `json:"signing_alg"`
	TokenLifetime   *int       `json:"token_lifetime"`
	AllowOffline    bool       `json:"allow_offline_access"`
	EnforcePolicies bool       `json:"enforce_policies"`
	TokenDialect    string     `json:"token_dialect"`
}

var apiFields = []string{"name", "identifier", "scopes", "token_lifetime", "enforce_policies", "token_dialect", "allow_offline_access", "signing_alg"}

// apiForm is the form as sent. Scopes are one a line: the value, then
// its description after the first space; a line added adds a scope, a
// line removed removes it.
type apiForm struct {
	Name, Identifier, Scopes, TokenLifetime string
	EnforcePolicies, Permissions, Offline   bool
}

func formOfAPI(a resourceServer) apiForm {
	var sc []string
	for _, s := range a.Scopes {
		sc = append(sc, strings.TrimSpace(s.Value+" "+s.Description))
	}
	f := apiForm{Name: a.Name, Identifier: a.Identifier, Scopes: strings.Join(sc, "\n"), EnforcePolicies: a.EnforcePolicies,
		Permissions: a.TokenDialect == "access_token_authz", Offline: a.AllowOffline}
	if a.TokenLifetime != nil {
		f.TokenLifetime = strconv.Itoa(*a.TokenLifetime)
	}
	return f
}

func parseAPIForm(r *http.Request) apiForm {
	f := r.PostForm
	return apiForm{Name: strings.TrimSpace(f.Get("name")), Identifier: strings.TrimSpace(f.Get("identifier")),
		Scopes: f.Get("scopes"), TokenLifetime: strings.TrimSpace(f.Get("token_lifetime")),
		EnforcePolicies: f.Get("enforce_policies") == "on", Permissions: f.Get("token_dialect") == "on",
		Offline: f.Get("allow_offline_access") == "on"}
}

// body is the API request of the form, or a message about the input the
// console reads itself (the lifetime's number).
func (f apiForm) body() (map[string]any, map[string]string) {
	scopes := []apiScope{}
	for _, l := range lines(f.Scopes) {
		v, d, _ := strings.Cut(l, " ")
		scopes = append(scopes, apiScope{Value: v, Description: strings.TrimSpace(d)})
	}
	dialect := "access_token"
	if f.Permissions {
		dialect = "access_token_authz"
	}
	b := map[string]any{"name": f.Name, "scopes": scopes, "enforce_policies": f.EnforcePolicies, "token_dialect": dialect,
		"allow_offline_access": f.Offline}
	b["token_lifetime"] = 0 // the server's default
	if f.TokenLifetime != "" {
		n, err := strconv.Atoi(f.TokenLifetime)
		if err != nil {
			return nil, map[string]string{"token_lifetime": "Enter the lifetime in seconds, a whole number, or leave it empty for the server's default."}
		}
		b["token_lifetime"] = n
	}
	return b, nil
}

type apisListPage struct {
	Page
	List List
	APIs []resourceServer
}

func (c *Console) apisList(w http.ResponseWriter, rq *Request) error {
	p := apisListPage{Page: rq.NewPage("APIs", "/apis"), List: ListOf(rq.Request)}
	if rq.URL.Query().Get("deleted") != "" {
		p.Notice = "The API was deleted."
	}
	all, err := allOf[resourceServer](rq, "/resource-servers", "resource_servers")
	if err != nil {
		return err
	}
	p.APIs = pageOf(&p.List, all, func(a resourceServer, q string) bool { return contains(q, a.Name, a.Identifier) })
	rq.Render(w, http.StatusOK, "apis_list", p)
	return nil
}

type apiPage struct {
	Page
	New  bool
	API  resourceServer
	Form apiForm
}

func (c *Console) apiNew(w http.ResponseWriter, rq *Request) error {
	p := apiPage{Page: rq.NewPage("New API", "/apis"), New: true}
	if !p.CanEdit() {
		return &APIError{Status: http.StatusForbidden, Message: "Your admin role is read-only: you cannot create APIs."}
	}
	rq.Render(w, http.StatusOK, "api", p)
	return nil
}

// apiFormFailed shows the form again with the console's own or the API's
// error beside its field.
func apiFormFailed(w http.ResponseWriter, rq *Request, pg *Page, fields map[string]string, err error, page string, data any, names ...string) error {
	if fields != nil {
		pg.Fields, pg.Error = fields, "The form has an error: see below."
	} else if err := pg.FormError(err, names...); err != nil {
		return err
	}
	rq.Render(w, http.StatusBadRequest, page, data)
	return nil
}

func (c *Console) apiCreate(w http.ResponseWriter, rq *Request) error {
	p := apiPage{Page: rq.NewPage("New API", "/apis"), New: true, Form: parseAPIForm(rq.Request)}
	body, bad := p.Form.body()
	if bad != nil {
		return apiFormFailed(w, rq, &p.Page, bad, nil, "api", &p)
	}
	body["identifier"] = p.Form.Identifier
	var a resourceServer
	if err := rq.API.Post(rq.Context(), "/resource-servers", body, &a); err != nil {
		return apiFormFailed(w, rq, &p.Page, nil, err, "api", &p, apiFields...)
	}
	http.Redirect(w, rq.Request, Prefix+"/apis/"+url.PathEscape(a.ID)+"?created=1", http.StatusSeeOther)
	return nil
}

func getAPI(rq *Request) (resourceServer, error) {
	var a resourceServer
	err := rq.API.Get(rq.Context(), "/resource-servers/"+PathEscape(rq.PathValue("id")), &a)
	return a, err
}

func (c *Console) apiShow(w http.ResponseWriter, rq *Request) error {
	a, err := getAPI(rq)
	if err != nil {
		return err
	}
	p := apiPage{Page: rq.NewPage(a.Name, "/apis"), API: a, Form: formOfAPI(a)}
	if rq.URL.Query().Get("created") != "" {
		p.Notice = "The API was created."
	}
	rq.Render(w, http.StatusOK, "api", p)
	return nil
}

func (c *Console) apiUpdate(w http.ResponseWriter, rq *Request) error {
	a, err := getAPI(rq)
	if err != nil {
		return err
	}
	p := apiPage{Page: rq.NewPage(a.Name, "/apis"), API: a, Form: parseAPIForm(rq.Request)}
	p.Form.Identifier = a.Identifier
	body, bad := p.Form.body()
	if bad != nil {
		return apiFormFailed(w, rq, &p.Page, bad, nil, "api", &p)
	}
	var updated resourceServer
	if err := rq.API.Patch(rq.Context(), "/resource-servers/"+PathEscape(a.ID), body, &updated); err != nil {
		return apiFormFailed(w, rq, &p.Page, nil, err, "api", &p, apiFields...)
	}
	p.API, p.Form, p.Title = updated, formOfAPI(updated), updated.Name
	p.Notice = "The changes were saved."
	rq.Render(w, http.StatusOK, "api", p)
	return nil
}

func (c *Console) apiDeleteConfirm(w http.ResponseWriter, rq *Request) error {
	a, err := getAPI(rq)
	if err != nil {
		return err
	}
	path := Prefix + "/apis/" + url.PathEscape(a.ID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Delete "+a.Name, "/apis"),
		Message: "The API " + a.Name + " (" + a.Identifier + ") is deleted with its client grants: no new token is issued for it. This cannot be undone.",
		Action:  path + "/delete", Button: "Delete the API", Cancel: path, Danger: true})
	return nil
}

func (c *Console) apiDelete(w http.ResponseWriter, rq *Request) error {
	if err := rq.API.Delete(rq.Context(), "/resource-servers/"+PathEscape(rq.PathValue("id"))); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/apis?deleted=1", http.StatusSeeOther)
	return nil
}
