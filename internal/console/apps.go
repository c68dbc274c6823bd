package console

import (
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/store"
)

// appRoutes are the Applications pages: the model every resource's pages
// follow (list with search and pages, new, edit, confirmed actions).
func (c *Console) appRoutes() {
	c.page("GET "+Prefix+"/applications", c.appsList)
	c.page("GET "+Prefix+"/applications/new", c.appNew)
	c.page("POST "+Prefix+"/applications", c.appCreate)
	c.page("GET "+Prefix+"/applications/{id}", c.appShow)
	c.page("POST "+Prefix+"/applications/{id}", c.appUpdate)
	c.page("GET "+Prefix+"/applications/{id}/rotate-secret", c.appRotateConfirm)
	c.page("POST "+Prefix+"/applications/{id}/rotate-secret", c.appRotate)
	c.page("GET "+Prefix+"/applications/{id}/delete", c.appDeleteConfirm)
	c.page("POST "+Prefix+"/applications/{id}/delete", c.appDelete)
}

// application is what the pages read of the API's application.
type application struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret"`
	Name                    string   `json:"name"`
	AppType                 string   `json:"app_type"`
	IsFirstParty            bool     `json:"is_first_party"`
	Callbacks               []string `json:"callbacks"`
	AllowedLogoutURLs       []string `json:"allowed_logout_urls"`
	WebOrigins              []string `json:"web_origins"`
	AllowedOrigins          []string `json:"allowed_origins"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	InitiateLoginURI        string   `json:"initiate_login_uri"`
	OrganizationUsage       string   `json:"organization_usage"`
	MFAPolicy               string   `json:"mfa_policy"`
	RequireVerifiedEmail    bool     `json:"require_verified_email"`
	CreatedAt               string   `json:"created_at"`
}

// appFields are the form's inputs, by their API names: an API error about
// one of them is shown beside it.
var appFields = []string{"name", "app_type", "token_endpoint_auth_method", "callbacks", "allowed_logout_urls",
	"web_origins", "allowed_origins", "is_first_party", "initiate_login_uri", "organization_usage", "mfa_policy",
	"require_verified_email"}

// appForm is the form as sent, kept to show it again with its errors.
type appForm struct {
	Name, AppType, AuthMethod, Callbacks, LogoutURLs, WebOrigins, AllowedOrigins string
	InitiateLoginURI, OrganizationUsage, MFAPolicy                               string
	FirstParty, RequireVerifiedEmail                                             bool
}

func formOfApp(a application) appForm {
	return appForm{Name: a.Name, AppType: a.AppType, AuthMethod: a.TokenEndpointAuthMethod,
		Callbacks: strings.Join(a.Callbacks, "\n"), LogoutURLs: strings.Join(a.AllowedLogoutURLs, "\n"),
		WebOrigins: strings.Join(a.WebOrigins, "\n"), AllowedOrigins: strings.Join(a.AllowedOrigins, "\n"),
		InitiateLoginURI: a.InitiateLoginURI, OrganizationUsage: a.OrganizationUsage, MFAPolicy: a.MFAPolicy,
		FirstParty: a.IsFirstParty, RequireVerifiedEmail: a.RequireVerifiedEmail}
}

func parseAppForm(r *http.Request) appForm {
	f := r.PostForm
	return appForm{Name: f.Get("name"), AppType: f.Get("app_type"), AuthMethod: f.Get("token_endpoint_auth_method"),
		Callbacks: f.Get("callbacks"), LogoutURLs: f.Get("allowed_logout_urls"), WebOrigins: f.Get("web_origins"),
		AllowedOrigins: f.Get("allowed_origins"), InitiateLoginURI: f.Get("initiate_login_uri"),
		OrganizationUsage: f.Get("organization_usage"), MFAPolicy: f.Get("mfa_policy"),
		FirstParty: f.Get("is_first_party") == "on", RequireVerifiedEmail: f.Get("require_verified_email") == "on"}
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// body is the API request of the form; the choices left empty are not
// sent, so the API's defaults (or the current values) apply.
func (f appForm) body() map[string]any {
	b := map[string]any{"name": f.Name, "callbacks": lines(f.Callbacks), "allowed_logout_urls": lines(f.LogoutURLs),
		"web_origins": lines(f.WebOrigins), "allowed_origins": lines(f.AllowedOrigins), "is_first_party": f.FirstParty,
		"initiate_login_uri": strings.TrimSpace(f.InitiateLoginURI), "require_verified_email": f.RequireVerifiedEmail}
	for k, v := range map[string]string{"app_type": f.AppType, "token_endpoint_auth_method": f.AuthMethod,
		"organization_usage": f.OrganizationUsage, "mfa_policy": f.MFAPolicy} {
		if v != "" {
			b[k] = v
		}
	}
	return b
}

type appsListPage struct {
	Page
	List List
	Apps []application
}

func (c *Console) appsList(w http.ResponseWriter, rq *Request) error {
	p := appsListPage{Page: rq.NewPage("Applications", "/applications"), List: ListOf(rq.Request)}
	if rq.URL.Query().Get("deleted") != "" {
		p.Page.Notice = "The application was deleted."
	}
	var out struct {
		Total   int           `json:"total"`
		Clients []application `json:"clients"`
	}
	if err := rq.API.Get(rq.Context(), "/clients?"+p.List.APIQuery("q").Encode(), &out); err != nil {
		return err
	}
	p.Apps, p.List.Total = out.Clients, out.Total
	rq.Render(w, http.StatusOK, "apps_list", p)
	return nil
}

// appFormPage is the form of a new or an existing application.
type appFormPage struct {
	Page
	Form appForm
	App  application // an existing one's record; empty for a new one
	New  bool
	// Secret is a secret just made, shown once.
	Secret     string
	Quickstart quickstart
}

func (c *Console) appNew(w http.ResponseWriter, rq *Request) error {
	p := appFormPage{Page: rq.NewPage("New application", "/applications"), New: true, Form: appForm{AppType: store.ClientRegularWeb}}
	if !p.CanEdit() {
		return &APIError{Status: http.StatusForbidden, Message: "Your admin role is read-only: you cannot create applications."}
	}
	rq.Render(w, http.StatusOK, "app_form", p)
	return nil
}

func (c *Console) appCreate(w http.ResponseWriter, rq *Request) error {
	p := appFormPage{Page: rq.NewPage("New application", "/applications"), New: true, Form: parseAppForm(rq.Request)}
	var a application
	if err := rq.API.Post(rq.Context(), "/clients", p.Form.body(), &a); err != nil {
		if err := p.FormError(err, appFields...); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "app_form", p)
		return nil
	}
	c.showApp(w, rq, a, a.ClientSecret, "The application was created.")
	return nil
}

func (c *Console) appShow(w http.ResponseWriter, rq *Request) error {
	a, err := getApp(rq)
	if err != nil {
		return err
	}
	c.showApp(w, rq, a, "", "")
	return nil
}

func getApp(rq *Request) (application, error) {
	var a application
	err := rq.API.Get(rq.Context(), "/clients/"+PathEscape(rq.PathValue("id")), &a)
	return a, err
}

// showApp renders an application's page: its form, quickstart and
// actions, with a new secret shown once.
func (c *Console) showApp(w http.ResponseWriter, rq *Request, a application, secret, notice string) {
	p := appFormPage{Page: rq.NewPage(a.Name, "/applications"), Form: formOfApp(a), App: a, Secret: secret,
		Quickstart: c.quickstart(a)}
	p.Notice = notice
	rq.Render(w, http.StatusOK, "app_form", p)
}

func (c *Console) appUpdate(w http.ResponseWriter, rq *Request) error {
	a, err := getApp(rq)
	if err != nil {
		return err
	}
	p := appFormPage{Page: rq.NewPage(a.Name, "/applications"), Form: parseAppForm(rq.Request), App: a, Quickstart: c.quickstart(a)}
	var updated application
	if err := rq.API.Patch(rq.Context(), "/clients/"+PathEscape(a.ClientID), p.Form.body(), &updated); err != nil {
		if err := p.FormError(err, appFields...); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "app_form", p)
		return nil
	}
	c.showApp(w, rq, updated, "", "The changes were saved.")
	return nil
}

// ConfirmPage asks before a destructive action: a form that POSTs to
// Action (with the CSRF token), and a way back. It works without script.
type ConfirmPage struct {
	Page
	Message string
	Action  string // the POST URL
	Button  string // the confirm button's label
	Cancel  string // the URL back
	Danger  bool   // a destructive action: the button looks it
}

func (c *Console) appRotateConfirm(w http.ResponseWriter, rq *Request) error {
	a, err := getApp(rq)
	if err != nil {
		return err
	}
	path := Prefix + "/applications/" + url.PathEscape(a.ClientID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Rotate the secret of "+a.Name, "/applications"),
		Message: "A new client secret is made and shown once. The current one stops working at once: every server that uses it must get the new one.",
		Action:  path + "/rotate-secret", Button: "Rotate the secret", Cancel: path, Danger: true})
	return nil
}

func (c *Console) appRotate(w http.ResponseWriter, rq *Request) error {
	var a application
	if err := rq.API.Post(rq.Context(), "/clients/"+PathEscape(rq.PathValue("id"))+"/rotate-secret", nil, &a); err != nil {
		return err
	}
	c.showApp(w, rq, a, a.ClientSecret, "The secret was rotated.")
	return nil
}

func (c *Console) appDeleteConfirm(w http.ResponseWriter, rq *Request) error {
	a, err := getApp(rq)
	if err != nil {
		return err
	}
	path := Prefix + "/applications/" + url.PathEscape(a.ClientID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Delete "+a.Name, "/applications"),
		Message: "The application " + a.Name + " (" + a.ClientID + ") is deleted with its grants and tokens. Its users can no longer log in to it. This cannot be undone.",
		Action:  path + "/delete", Button: "Delete the application", Cancel: path, Danger: true})
	return nil
}

func (c *Console) appDelete(w http.ResponseWriter, rq *Request) error {
	if err := rq.API.Delete(rq.Context(), "/clients/"+PathEscape(rq.PathValue("id"))); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/applications?deleted=1", http.StatusSeeOther)
	return nil
}

// quickstart is what an application's developer needs to start: its
// /authorize URL and its token request, filled in.
type quickstart struct {
	AuthorizeURL string
	TokenCurl    string
	M2M          bool
}

func (c *Console) quickstart(a application) quickstart {
	tokenURL := config.IssuerURL(c.cfg.Issuer, "/oauth/token")
	secret := ""
	if a.TokenEndpointAuthMethod != store.AuthMethodNone {
		secret = " \\\n  -d client_secret=YOUR_CLIENT_SECRET"
	}
	if a.AppType == "non_interactive" || a.AppType == store.ClientM2M {
		return quickstart{M2M: true, TokenCurl: "curl -X POST " + tokenURL + " \\\n  -d grant_type=client_credentials \\\n  -d client_id=" +
			url.QueryEscape(a.ClientID) + secret + " \\\n  -d audience=YOUR_API_IDENTIFIER"}
	}
	redirect := "https://YOUR_APP/callback"
	if len(a.Callbacks) > 0 {
		redirect = a.Callbacks[0]
	}
	q := url.Values{"client_id": {a.ClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"openid profile email"}, "state": {"STATE"},
		"code_challenge": {"CODE_CHALLENGE"}, "code_challenge_method": {"S256"}}
	return quickstart{
		AuthorizeURL: config.IssuerURL(c.cfg.Issuer, "/authorize") + "?" + q.Encode(),
		TokenCurl: "curl -X POST " + tokenURL + " \\\n  -d grant_type=authorization_code \\\n  -d client_id=" + url.QueryEscape(a.ClientID) +
			secret + " \\\n  -d code=CODE_FROM_THE_CALLBACK \\\n  -d code_verifier=CODE_VERIFIER \\\n  -d redirect_uri=" + url.QueryEscape(redirect),
	}
}
