package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"gatehouse/internal/store"
)

// userRoutes are the Users pages: search, create, and a user's page with
// profile, metadata, block, password link, factors, sessions, roles,
// identities and deletion. Every action is one management API call.
func (c *Console) userRoutes() {
	c.page("GET "+Prefix+"/users", c.usersList)
	c.page("GET "+Prefix+"/users/new", c.userNew)
	c.page("POST "+Prefix+"/users", c.userCreate)
	c.page("GET "+Prefix+"/users/{id}", c.userShow)
	c.page("POST "+Prefix+"/users/{id}", c.userUpdate)
	c.page("POST "+Prefix+"/users/{id}/metadata", c.userMetadata)
	c.page("POST "+Prefix+"/users/{id}/block", c.userBlock)
	c.page("POST "+Prefix+"/users/{id}/password-link", c.userPasswordLink)
	c.page("GET "+Prefix+"/users/{id}/factors/{factor}/delete", c.userFactorDeleteConfirm)
	c.page("POST "+Prefix+"/users/{id}/factors/{factor}/delete", c.userFactorDelete)
	c.page("GET "+Prefix+"/users/{id}/sessions/revoke", c.userSessionsRevokeConfirm)
	c.page("POST "+Prefix+"/users/{id}/sessions/revoke", c.userSessionsRevoke)
	c.page("POST "+Prefix+"/users/{id}/roles", c.userRoleAssign)
	c.page("POST "+Prefix+"/users/{id}/roles/remove", c.userRoleRemove)
	c.page("GET "+Prefix+"/users/{id}/identities/{provider}/{uid}/unlink", c.userUnlinkConfirm)
	c.page("POST "+Prefix+"/users/{id}/identities/{provider}/{uid}/unlink", c.userUnlink)
	c.page("GET "+Prefix+"/users/{id}/delete", c.userDeleteConfirm)
	c.page("POST "+Prefix+"/users/{id}/delete", c.userDelete)
}

// user is what the pages read of the API's user.
type user struct {
	UserID        string         `json:"user_id"`
	Email         string         `json:"email"`
	EmailVerified bool           `json:"email_verified"`
	Name          string         `json:"name"`
	Nickname      string         `json:"nickname"`
	GivenName     string         `json:"given_name"`
	FamilyName    string         `json:"family_name"`
	Picture       string         `json:"picture"`
	Blocked       bool           `json:"blocked"`
	CreatedAt     string         `json:"created_at"`
	LastLogin     string         `json:"last_login"`
	LoginsCount   int            `json:"logins_count"`
	Identities    []identity     `json:"identities"`
	AppMetadata   map[string]any `json:"app_metadata"`
	UserMetadata  map[string]any `json:"user_metadata"`
}

type identity struct {
	Connection string `json:"connection"`
	Provider   string `json:"provider"`
	UserID     string `json:"user_id"`
	IsSocial   bool   `json:"isSocial"`
}

type factor struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	Confirmed  bool   `json:"confirmed"`
	CreatedAt  string `json:"created_at"`
	LastAuthAt string `json:"last_auth_at"`
}

type userSession struct {
	ID              string   `json:"id"`
	CreatedAt       string   `json:"created_at"`
	AuthenticatedAt string   `json:"authenticated_at"`
	ExpiresAt       string   `json:"expires_at"`
	Methods         []string `json:"authentication_methods"`
}

type role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// userQuery turns the search box into the API's user query: a query in
// the API's syntax (field:value) as it is, anything else a prefix of the
// email address, which the API stores in lower case.
func userQuery(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, ":") {
		return s
	}
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(strings.ToLower(s))
	return `email:"` + strings.TrimSuffix(s, "*") + `*"`
}

type usersListPage struct {
	Page
	List  List
	Users []user
}

func (c *Console) usersList(w http.ResponseWriter, rq *Request) error {
	p := usersListPage{Page: rq.NewPage("Users", "/users"), List: ListOf(rq.Request)}
	if rq.URL.Query().Get("deleted") != "" {
		p.Notice = "The user was deleted."
	}
	q := p.List.APIQuery("")
	if uq := userQuery(p.List.Q); uq != "" {
		q.Set("q", uq)
	}
	var out struct {
		Total int    `json:"total"`
		Users []user `json:"users"`
	}
	if err := rq.API.Get(rq.Context(), "/users?"+q.Encode(), &out); err != nil {
		// A query the API cannot parse is the searcher's mistake: say so
		// above the (empty) list.
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			return err
		}
		p.Error = ae.Message
		rq.Render(w, http.StatusBadRequest, "users_list", p)
		return nil
	}
	p.Users, p.List.Total = out.Users, out.Total
	rq.Render(w, http.StatusOK, "users_list", p)
	return nil
}

// userFields are the inputs of the new-user form by their API names.
var userFields = []string{"email", "password", "name", "connection", "email_verified"}

type userForm struct {
	Email, Name, Connection string
	EmailVerified           bool
}

type userNewPage struct {
	Page
	Form userForm
}

func (c *Console) userNew(w http.ResponseWriter, rq *Request) error {
	p := userNewPage{Page: rq.NewPage("New user", "/users"), Form: userForm{Connection: store.DefaultDatabaseConnection}}
	if !p.CanEdit() {
		return &APIError{Status: http.StatusForbidden, Message: "Your admin role is read-only: you cannot create users."}
	}
	rq.Render(w, http.StatusOK, "user_new", p)
	return nil
}

func (c *Console) userCreate(w http.ResponseWriter, rq *Request) error {
	f := rq.PostForm
	p := userNewPage{Page: rq.NewPage("New user", "/users"), Form: userForm{Email: strings.TrimSpace(f.Get("email")),
		Name: strings.TrimSpace(f.Get("name")), Connection: strings.TrimSpace(f.Get("connection")), EmailVerified: f.Get("email_verified") == "on"}}
	body := map[string]any{"email": p.Form.Email, "password": f.Get("password"), "connection": p.Form.Connection,
		"email_verified": p.Form.EmailVerified}
	if p.Form.Name != "" {
		body["name"] = p.Form.Name
	}
	var u user
	if err := rq.API.Post(rq.Context(), "/users", body, &u); err != nil {
		if err := p.FormError(err, userFields...); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "user_new", p)
		return nil
	}
	http.Redirect(w, rq.Request, userPath(u.UserID)+"?created=1", http.StatusSeeOther)
	return nil
}

// userPath is the console page of the user.
func userPath(id string) string { return Prefix + "/users/" + url.PathEscape(id) }

// userPage is a user's page, with what is being edited kept as sent.
type userPage struct {
	Page
	User       user
	Path       string
	Profile    userForm
	AppMeta    string // the metadata as JSON, as shown in the textareas
	UserMeta   string
	Factors    []factor
	Sessions   []userSession
	Roles      []role
	OtherRoles []role // the roles the user does not hold, to assign
	Ticket     string // a password link just made, shown once
}

func getUser(rq *Request) (user, error) {
	var u user
	err := rq.API.Get(rq.Context(), "/users/"+PathEscape(rq.PathValue("id")), &u)
	return u, err
}

func prettyJSON(m map[string]any) string {
	if len(m) == 0 {
		return "{}"
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "{}"
	}
	return string(b)
}

// loadUser reads the user and everything the page shows of them.
func loadUser(rq *Request) (userPage, error) {
	u, err := getUser(rq)
	if err != nil {
		return userPage{}, err
	}
	title := u.Email
	if title == "" {
		title = u.UserID
	}
	p := userPage{Page: rq.NewPage(title, "/users"), User: u, Path: userPath(u.UserID),
		Profile: userForm{Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified},
		AppMeta: prettyJSON(u.AppMetadata), UserMeta: prettyJSON(u.UserMetadata)}
	id := "/users/" + PathEscape(u.UserID)
	var fs struct {
		Authenticators []factor `json:"authenticators"`
	}
	if err := rq.API.Get(rq.Context(), id+"/authentication-methods?per_page=100&include_totals=true", &fs); err != nil {
		return p, err
	}
	p.Factors = fs.Authenticators
	var ss struct {
		Sessions []userSession `json:"sessions"`
	}
	if err := rq.API.Get(rq.Context(), id+"/sessions", &ss); err != nil {
		return p, err
	}
	p.Sessions = ss.Sessions
	var rs struct {
		Roles []role `json:"roles"`
	}
	if err := rq.API.Get(rq.Context(), id+"/roles?per_page=100&include_totals=true", &rs); err != nil {
		return p, err
	}
	p.Roles = rs.Roles
	if p.CanEdit() {
		var all struct {
			Roles []role `json:"roles"`
		}
		if err := rq.API.Get(rq.Context(), "/roles?per_page=100&include_totals=true", &all); err != nil {
			return p, err
		}
		held := map[string]bool{}
		for _, r := range p.Roles {
			held[r.ID] = true
		}
		for _, r := range all.Roles {
			if !held[r.ID] {
				p.OtherRoles = append(p.OtherRoles, r)
			}
		}
		sort.Slice(p.OtherRoles, func(i, j int) bool { return p.OtherRoles[i].Name < p.OtherRoles[j].Name })
	}
	return p, nil
}

func (c *Console) userShow(w http.ResponseWriter, rq *Request) error {
	p, err := loadUser(rq)
	if err != nil {
		return err
	}
	if rq.URL.Query().Get("created") != "" {
		p.Notice = "The user was created."
	} else if what := rq.URL.Query().Get("saved"); what != "" {
		p.Notice = savedNotices[what]
		if p.Notice == "" {
			p.Notice = "The changes were saved."
		}
	}
	rq.Render(w, http.StatusOK, "user_show", p)
	return nil
}

// savedNotices are the messages after a change, by the saved parameter.
var savedNotices = map[string]string{
	"blocked": "The user's access was changed.", "factor": "The factor was removed.",
	"sessions": "Every session of the user was revoked.", "roles": "The user's roles were changed.",
	"identities": "The identity was unlinked.", "metadata": "The metadata was saved.",
}

// saved sends the browser back to the user's page after a change, so a
// reload does not send the form again.
func saved(w http.ResponseWriter, rq *Request, notice string) {
	http.Redirect(w, rq.Request, userPath(rq.PathValue("id"))+"?saved="+url.QueryEscape(notice), http.StatusSeeOther)
}

// formFailed renders the user's page with an API error about a form, or
// returns the error when it is no error of the input.
func formFailed(w http.ResponseWriter, rq *Request, p userPage, err error, fields ...string) error {
	if err := p.FormError(err, fields...); err != nil {
		return err
	}
	rq.Render(w, http.StatusBadRequest, "user_show", p)
	return nil
}

func (c *Console) userUpdate(w http.ResponseWriter, rq *Request) error {
	p, err := loadUser(rq)
	if err != nil {
		return err
	}
	f := rq.PostForm
	p.Profile = userForm{Email: strings.TrimSpace(f.Get("email")), Name: strings.TrimSpace(f.Get("name")),
		EmailVerified: f.Get("email_verified") == "on"}
	body := map[string]any{"name": p.Profile.Name, "email_verified": p.Profile.EmailVerified}
	if p.Profile.Email != p.User.Email {
		body["email"] = p.Profile.Email
	}
	if err := rq.API.Patch(rq.Context(), "/users/"+PathEscape(p.User.UserID), body, nil); err != nil {
		return formFailed(w, rq, p, err, "email", "name", "email_verified")
	}
	saved(w, rq, "profile")
	return nil
}

// parseObject reads a metadata textarea: a JSON object, or a message for
// the field.
func parseObject(s string) (map[string]any, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return map[string]any{}, ""
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, "This is not valid JSON: " + err.Error() + "."
	}
	if dec.More() {
		return nil, "This is not valid JSON: there is text after the object."
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "Metadata must be a JSON object: { \"key\": \"value\" }."
	}
	return m, ""
}

// userMetadata saves app_metadata and user_metadata. Invalid JSON is
// refused here, beside its field, with no API call. The API merges
// metadata key by key, so a key taken out of the text is sent as null,
// which deletes it.
func (c *Console) userMetadata(w http.ResponseWriter, rq *Request) error {
	p, err := loadUser(rq)
	if err != nil {
		return err
	}
	p.AppMeta, p.UserMeta = rq.PostForm.Get("app_metadata"), rq.PostForm.Get("user_metadata")
	body := map[string]any{}
	for _, m := range []struct {
		field, text string
		old         map[string]any
	}{{"app_metadata", p.AppMeta, p.User.AppMetadata}, {"user_metadata", p.UserMeta, p.User.UserMetadata}} {
		v, msg := parseObject(m.text)
		if msg != "" {
			if p.Fields == nil {
				p.Fields = map[string]string{}
			}
			p.Fields[m.field] = msg
			continue
		}
		for k := range m.old {
			if _, ok := v[k]; !ok {
				v[k] = nil
			}
		}
		body[m.field] = v
	}
	if len(p.Fields) > 0 {
		p.Error = "The form has an error: see below."
		rq.Render(w, http.StatusBadRequest, "user_show", p)
		return nil
	}
	if err := rq.API.Patch(rq.Context(), "/users/"+PathEscape(p.User.UserID), body, nil); err != nil {
		return formFailed(w, rq, p, err, "app_metadata", "user_metadata")
	}
	saved(w, rq, "metadata")
	return nil
}

func (c *Console) userBlock(w http.ResponseWriter, rq *Request) error {
	blocked := rq.PostForm.Get("blocked") == "true"
	if err := rq.API.Patch(rq.Context(), "/users/"+PathEscape(rq.PathValue("id")), map[string]any{"blocked": blocked}, nil); err != nil {
		return err
	}
	saved(w, rq, "blocked")
	return nil
}

// userPasswordLink makes a password-change link and shows it once: the
// page is rendered, not redirected to, so the link is in no URL.
func (c *Console) userPasswordLink(w http.ResponseWriter, rq *Request) error {
	p, err := loadUser(rq)
	if err != nil {
		return err
	}
	var t struct {
		Ticket string `json:"ticket"`
	}
	if err := rq.API.Post(rq.Context(), "/tickets/password-change", map[string]any{"user_id": p.User.UserID}, &t); err != nil {
		return formFailed(w, rq, p, err)
	}
	p.Ticket = t.Ticket
	p.Notice = "A password link was made. Copy it now: it is shown only this once."
	rq.Render(w, http.StatusOK, "user_show", p)
	return nil
}

func (c *Console) userFactorDeleteConfirm(w http.ResponseWriter, rq *Request) error {
	u, err := getUser(rq)
	if err != nil {
		return err
	}
	path := userPath(u.UserID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Remove a second factor of "+u.Email, "/users"),
		Message: "The factor " + rq.PathValue("factor") + " is removed: the user can no longer sign in with it and may have to enrol again.",
		Action:  path + "/factors/" + url.PathEscape(rq.PathValue("factor")) + "/delete", Button: "Remove the factor", Cancel: path, Danger: true})
	return nil
}

func (c *Console) userFactorDelete(w http.ResponseWriter, rq *Request) error {
	if err := rq.API.Delete(rq.Context(), "/users/"+PathEscape(rq.PathValue("id"))+"/authentication-methods/"+PathEscape(rq.PathValue("factor"))); err != nil {
		return err
	}
	saved(w, rq, "factor")
	return nil
}

func (c *Console) userSessionsRevokeConfirm(w http.ResponseWriter, rq *Request) error {
	u, err := getUser(rq)
	if err != nil {
		return err
	}
	path := userPath(u.UserID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Sign "+u.Email+" out everywhere", "/users"),
		Message: "Every session of the user ends: they must log in again in every browser.",
		Action:  path + "/sessions/revoke", Button: "Revoke all sessions", Cancel: path, Danger: true})
	return nil
}

func (c *Console) userSessionsRevoke(w http.ResponseWriter, rq *Request) error {
	if err := rq.API.Delete(rq.Context(), "/users/"+PathEscape(rq.PathValue("id"))+"/sessions"); err != nil {
		return err
	}
	saved(w, rq, "sessions")
	return nil
}

func (c *Console) userRoleAssign(w http.ResponseWriter, rq *Request) error {
	p, err := loadUser(rq)
	if err != nil {
		return err
	}
	roles := []string{}
	if r := rq.PostForm.Get("role"); r != "" {
		roles = append(roles, r)
	}
	if err := rq.API.Post(rq.Context(), "/users/"+PathEscape(p.User.UserID)+"/roles", map[string]any{"roles": roles}, nil); err != nil {
		// The API names no field of the one-select form: put its message
		// beside the select.
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound) {
			p.Fields = map[string]string{"role": ae.Message}
			p.Error = "The role was not assigned: see below."
			rq.Render(w, http.StatusBadRequest, "user_show", p)
			return nil
		}
		return err
	}
	saved(w, rq, "roles")
	return nil
}

func (c *Console) userRoleRemove(w http.ResponseWriter, rq *Request) error {
	if err := rq.API.Do(rq.Context(), http.MethodDelete, "/users/"+PathEscape(rq.PathValue("id"))+"/roles",
		map[string]any{"roles": []string{rq.PostForm.Get("role")}}, nil); err != nil {
		return err
	}
	saved(w, rq, "roles")
	return nil
}

func (c *Console) userUnlinkConfirm(w http.ResponseWriter, rq *Request) error {
	u, err := getUser(rq)
	if err != nil {
		return err
	}
	path := userPath(u.UserID)
	idPath := "/identities/" + url.PathEscape(rq.PathValue("provider")) + "/" + url.PathEscape(rq.PathValue("uid")) + "/unlink"
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Unlink an identity of "+u.Email, "/users"),
		Message: "The identity " + rq.PathValue("provider") + "|" + rq.PathValue("uid") + " is unlinked: it becomes a user of its own, and logging in with it no longer reaches this account.",
		Action:  path + idPath, Button: "Unlink the identity", Cancel: path, Danger: true})
	return nil
}

func (c *Console) userUnlink(w http.ResponseWriter, rq *Request) error {
	path := "/users/" + PathEscape(rq.PathValue("id")) + "/identities/" + PathEscape(rq.PathValue("provider")) + "/" + PathEscape(rq.PathValue("uid"))
	if err := rq.API.Delete(rq.Context(), path); err != nil {
		return err
	}
	saved(w, rq, "identities")
	return nil
}

func (c *Console) userDeleteConfirm(w http.ResponseWriter, rq *Request) error {
	u, err := getUser(rq)
	if err != nil {
		return err
	}
	path := userPath(u.UserID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Delete "+u.Email, "/users"),
		Message: "The user " + u.Email + " (" + u.UserID + ") is deleted with their sessions, grants and factors. This cannot be undone.",
		Action:  path + "/delete", Button: "Delete the user", Cancel: path, Danger: true})
	return nil
}

func (c *Console) userDelete(w http.ResponseWriter, rq *Request) error {
	if err := rq.API.Delete(rq.Context(), "/users/"+PathEscape(rq.PathValue("id"))); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/users?deleted=1", http.StatusSeeOther)
	return nil
}
