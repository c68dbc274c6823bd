package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// orgRoutes are the Organizations pages: the list, a new one, and an
// organization's page with its settings and branding (with a preview of
// the hosted login's header), members, invitations and connections.
func (c *Console) orgRoutes() {
	c.page("GET "+Prefix+"/organizations", c.orgsList)
	c.page("GET "+Prefix+"/organizations/new", c.orgNew)
	c.page("POST "+Prefix+"/organizations", c.orgCreate)
	c.page("GET "+Prefix+"/organizations/{id}", c.orgShow)
	c.page("POST "+Prefix+"/organizations/{id}", c.orgUpdate)
	c.page("GET "+Prefix+"/organizations/{id}/delete", c.orgDeleteConfirm)
	c.page("POST "+Prefix+"/organizations/{id}/delete", c.orgDelete)
	c.page("POST "+Prefix+"/organizations/{id}/members", c.orgAddMember)
	c.page("GET "+Prefix+"/organizations/{id}/members/remove", c.orgRemoveMemberConfirm)
	c.page("POST "+Prefix+"/organizations/{id}/members/remove", c.orgRemoveMember)
	c.page("POST "+Prefix+"/organizations/{id}/invitations", c.orgInvite)
	c.page("GET "+Prefix+"/organizations/{id}/invitations/{inv}/revoke", c.orgRevokeConfirm)
	c.page("POST "+Prefix+"/organizations/{id}/invitations/{inv}/revoke", c.orgRevoke)
	c.page("POST "+Prefix+"/organizations/{id}/connections", c.orgEnableConnection)
	c.page("GET "+Prefix+"/organizations/{id}/connections/{conn}/disable", c.orgDisableConnectionConfirm)
	c.page("POST "+Prefix+"/organizations/{id}/connections/{conn}/disable", c.orgDisableConnection)
	// The preview's colors, as a stylesheet: the CSP allows no inline style.
	c.page("GET "+Prefix+"/organization-preview.css", c.orgPreviewCSS)
	c.orgRoleRoutes()
}

type orgColors struct {
	Primary        string `json:"primary,omitempty"`
	PageBackground string `json:"page_background,omitempty"`
}

type orgBranding struct {
	LogoURL string     `json:"logo_url,omitempty"`
	Colors  *orgColors `json:"colors,omitempty"`
}

// organization is what the pages read of the API's organization.
type organization struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	DisplayName string       `json:"display_name"`
	Branding    *orgBranding `json:"branding"`
}

type member struct {
	UserID string `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
}

type invitation struct {
	ID            string                 `json:"id"`
	Invitee       struct{ Email string } `json:"invitee"`
	Inviter       struct{ Name string }  `json:"inviter"`
	InvitationURL string                 `json:"invitation_url"`
	ClientID      string                 `json:"client_id"`
	ConnectionID  string                 `json:"connection_id"`
	CreatedAt     string                 `json:"created_at"`
	ExpiresAt     string                 `json:"expires_at"`
}

type orgConnection struct {
	ConnectionID            string `json:"connection_id"`
	AssignMembershipOnLogin bool   `json:"assign_membership_on_login"`
	Connection              struct {
		Name     string `json:"name"`
		Strategy string `json:"strategy"`
	} `json:"connection"`
}

// orgForm is the settings form as sent.
type orgForm struct {
	Name, DisplayName, LogoURL, Primary, Background string
}

func formOfOrg(o organization) orgForm {
	f := orgForm{Name: o.Name, DisplayName: o.DisplayName}
	if b := o.Branding; b != nil {
		f.LogoURL = b.LogoURL
		if b.Colors != nil {
			f.Primary, f.Background = b.Colors.Primary, b.Colors.PageBackground
		}
	}
	return f
}

func parseOrgForm(r *http.Request) orgForm {
	f := r.PostForm
	return orgForm{Name: strings.TrimSpace(f.Get("name")), DisplayName: strings.TrimSpace(f.Get("display_name")),
		LogoURL: strings.TrimSpace(f.Get("logo_url")), Primary: strings.TrimSpace(f.Get("primary")),
		Background: strings.TrimSpace(f.Get("page_background"))}
}

// body is the API request of the form; empty branding clears it.
func (f orgForm) body() map[string]any {
	b := map[string]any{"name": f.Name, "display_name": f.DisplayName}
	b["branding"] = map[string]any{"logo_url": f.LogoURL,
		"colors": map[string]any{"primary": f.Primary, "page_background": f.Background}}
	return b
}

// orgFields are the form's inputs, by the API's names of them; the API
// names the branding's inputs by their last part.
var orgFields = []string{"name", "display_name", "logo_url", "primary", "page_background"}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// Preview is the hosted login's header as an organization's branding
// makes it, rendered by the console.
type Preview struct {
	DisplayName, LogoURL string
	CSS                  string // the preview stylesheet's URL, "" for the default colors
}

func (f orgForm) preview() Preview {
	p := Preview{DisplayName: f.DisplayName, LogoURL: f.LogoURL}
	if p.DisplayName == "" {
		p.DisplayName = f.Name
	}
	if !strings.HasPrefix(p.LogoURL, "https://") {
		p.LogoURL = "" // the hosted pages' CSP takes https images only
	}
	q := url.Values{}
	if hexColor.MatchString(f.Primary) {
		q.Set("primary", f.Primary)
	}
	if hexColor.MatchString(f.Background) {
		q.Set("bg", f.Background)
	}
	if len(q) > 0 {
		p.CSS = Prefix + "/organization-preview.css?" + q.Encode()
	}
	return p
}

func (c *Console) orgPreviewCSS(w http.ResponseWriter, rq *Request) error {
	q := rq.URL.Query()
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	if v := q.Get("primary"); hexColor.MatchString(v) {
		fmt.Fprintf(w, ".org-preview { --accent: %s; }\n", strings.ToLower(v))
	}
	if v := q.Get("bg"); hexColor.MatchString(v) {
		fmt.Fprintf(w, ".org-preview { background: %s; }\n", strings.ToLower(v))
	}
	return nil
}

type orgsListPage struct {
	Page
	List List
	Orgs []organization
}

func (c *Console) orgsList(w http.ResponseWriter, rq *Request) error {
	p := orgsListPage{Page: rq.NewPage("Organizations", "/organizations"), List: ListOf(rq.Request)}
	if rq.URL.Query().Get("deleted") != "" {
		p.Notice = "The organization was deleted."
	}
	all, err := allOf[organization](rq, "/organizations", "organizations")
	if err != nil {
		return err
	}
	p.Orgs = pageOf(&p.List, all, func(o organization, q string) bool { return contains(q, o.Name, o.DisplayName, o.ID) })
	rq.Render(w, http.StatusOK, "orgs_list", p)
	return nil
}

// orgPage is an organization's page, or the form of a new one.
type orgPage struct {
	Page
	New     bool
	Org     organization
	Form    orgForm
	Preview Preview
	Members []member
	// MemberList searches and pages the members.
	MemberList List
	Invites    []invitation
	Conns      []orgConnection
	// Options of the invitation and connection forms.
	Apps     []application
	AllConns []connection
	// Invited is an invitation just made: its link is shown once.
	Invited *invitation
	// InviteForm and MemberForm keep what was sent, shown with its error.
	InviteEmail, InviteClient, MemberInput string
}

func (c *Console) orgNew(w http.ResponseWriter, rq *Request) error {
	p := orgPage{Page: rq.NewPage("New organization", "/organizations"), New: true}
	if !p.CanEdit() {
		return &APIError{Status: http.StatusForbidden, Message: "Your admin role is read-only: you cannot create organizations."}
	}
	rq.Render(w, http.StatusOK, "org", p)
	return nil
}

func (c *Console) orgCreate(w http.ResponseWriter, rq *Request) error {
	p := orgPage{Page: rq.NewPage("New organization", "/organizations"), New: true, Form: parseOrgForm(rq.Request)}
	body := map[string]any{"name": p.Form.Name}
	if p.Form.DisplayName != "" {
		body["display_name"] = p.Form.DisplayName
	}
	var o organization
	if err := rq.API.Post(rq.Context(), "/organizations", body, &o); err != nil {
		if err := p.FormError(err, orgFields...); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "org", p)
		return nil
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations/"+url.PathEscape(o.ID)+"?created=1", http.StatusSeeOther)
	return nil
}

func getOrg(rq *Request) (organization, error) {
	var o organization
	id := rq.PathValue("id")
	if !strings.HasPrefix(id, "org_") {
		return o, &APIError{Status: http.StatusNotFound, Message: "There is no organization " + id + "."}
	}
	err := rq.API.Get(rq.Context(), "/organizations/"+PathEscape(id), &o)
	return o, err
}

// loadOrgPage reads the organization and its members, invitations and
// connections, and the options of the forms for an admin who can edit.
func (c *Console) loadOrgPage(rq *Request) (orgPage, error) {
	o, err := getOrg(rq)
	if err != nil {
		return orgPage{}, err
	}
	p := orgPage{Page: rq.NewPage(orgTitle(o), "/organizations"), Org: o, Form: formOfOrg(o)}
	p.Preview = p.Form.preview()
	base := "/organizations/" + PathEscape(o.ID)
	members, err := allOf[member](rq, base+"/members", "members")
	if err != nil {
		return p, err
	}
	p.MemberList = ListOf(rq.Request)
	p.MemberList.Path = Prefix + "/organizations/" + url.PathEscape(o.ID)
	p.Members = pageOf(&p.MemberList, members, func(m member, q string) bool { return contains(q, m.Email, m.Name, m.UserID) })
	if p.Invites, err = allOf[invitation](rq, base+"/invitations", "invitations"); err != nil {
		return p, err
	}
	if p.Conns, err = allOf[orgConnection](rq, base+"/enabled_connections", "enabled_connections"); err != nil {
		return p, err
	}
	if p.CanEdit() {
		apps, err := allOf[application](rq, "/clients", "clients")
		if err != nil {
			return p, err
		}
		for _, a := range apps {
			if a.OrganizationUsage == "allow" || a.OrganizationUsage == "require" {
				p.Apps = append(p.Apps, a)
			}
		}
		if p.AllConns, err = allOf[connection](rq, "/connections", "connections"); err != nil {
			return p, err
		}
	}
	return p, nil
}

func orgTitle(o organization) string {
	if o.DisplayName != "" {
		return o.DisplayName
	}
	return o.Name
}

func (c *Console) orgShow(w http.ResponseWriter, rq *Request) error {
	p, err := c.loadOrgPage(rq)
	if err != nil {
		return err
	}
	switch q := rq.URL.Query(); {
	case q.Get("created") != "":
		p.Notice = "The organization was created."
	case q.Get("added") != "":
		p.Notice = "The member was added."
	case q.Get("removed") != "":
		p.Notice = "The member was removed."
	case q.Get("revoked") != "":
		p.Notice = "The invitation was revoked."
	case q.Get("enabled") != "":
		p.Notice = "The connection was enabled."
	case q.Get("disabled") != "":
		p.Notice = "The connection was disabled."
	}
	rq.Render(w, http.StatusOK, "org", p)
	return nil
}

// orgUpdate saves the settings and branding, or with "preview" only
// shows the branding in the preview.
func (c *Console) orgUpdate(w http.ResponseWriter, rq *Request) error {
	p, err := c.loadOrgPage(rq)
	if err != nil {
		return err
	}
	p.Form = parseOrgForm(rq.Request)
	p.Preview = p.Form.preview()
	if rq.PostForm.Get("preview") != "" {
		p.Notice = "The preview shows the form's branding; it is not saved yet."
		rq.Render(w, http.StatusOK, "org", p)
		return nil
	}
	var o organization
	if err := rq.API.Patch(rq.Context(), "/organizations/"+PathEscape(p.Org.ID), p.Form.body(), &o); err != nil {
		if err := p.FormError(err, orgFields...); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "org", p)
		return nil
	}
	p.Org, p.Form, p.Title = o, formOfOrg(o), orgTitle(o)
	p.Preview = p.Form.preview()
	p.Notice = "The changes were saved."
	rq.Render(w, http.StatusOK, "org", p)
	return nil
}

func (c *Console) orgDeleteConfirm(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	path := Prefix + "/organizations/" + url.PathEscape(o.ID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Delete "+orgTitle(o), "/organizations"),
		Message: "The organization " + o.Name + " (" + o.ID + ") is deleted with its memberships and pending invitations; its members' accounts stay. This cannot be undone.",
		Action:  path + "/delete", Button: "Delete the organization", Cancel: path, Danger: true})
	return nil
}

func (c *Console) orgDelete(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	if err := rq.API.Delete(rq.Context(), "/organizations/"+PathEscape(o.ID)); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations?deleted=1", http.StatusSeeOther)
	return nil
}

// orgAddMember adds a user, given by user ID or email address.
func (c *Console) orgAddMember(w http.ResponseWriter, rq *Request) error {
	p, err := c.loadOrgPage(rq)
	if err != nil {
		return err
	}
	p.MemberInput = strings.TrimSpace(rq.PostForm.Get("member"))
	fail := func(msg string) error {
		p.Fields = map[string]string{"member": msg}
		p.Error = "The form has an error: see below."
		rq.Render(w, http.StatusBadRequest, "org", p)
		return nil
	}
	id := p.MemberInput
	switch {
	case id == "":
		return fail("Enter the user's email address or user ID.")
	case strings.Contains(id, "@") && !strings.Contains(id, "|"):
		var users []struct {
			UserID string `json:"user_id"`
		}
		if err := rq.API.Get(rq.Context(), "/users-by-email?email="+url.QueryEscape(id), &users); err != nil {
			if err := p.FormError(err, "member"); err != nil {
				return err
			}
			rq.Render(w, http.StatusBadRequest, "org", p)
			return nil
		}
		if len(users) != 1 {
			return fail("No single user has the email address " + id + ": enter the user ID.")
		}
		id = users[0].UserID
	}
	err = rq.API.Post(rq.Context(), "/organizations/"+PathEscape(p.Org.ID)+"/members", map[string]any{"members": []string{id}}, nil)
	if err != nil {
		if err := p.FormError(err, "member", "members"); err != nil {
			if IsNotFound(err) {
				return fail("There is no user " + id + ".")
			}
			return err
		}
		if p.Fields["members"] != "" {
			p.Fields["member"] = p.Fields["members"]
		}
		rq.Render(w, http.StatusBadRequest, "org", p)
		return nil
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations/"+url.PathEscape(p.Org.ID)+"?added=1#members", http.StatusSeeOther)
	return nil
}

func (c *Console) orgRemoveMemberConfirm(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	user := rq.URL.Query().Get("user")
	path := Prefix + "/organizations/" + url.PathEscape(o.ID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Remove a member of "+orgTitle(o), "/organizations"),
		Message: "The user " + user + " stops being a member of " + o.Name + ": the next logins in the organization are refused. The account stays.",
		Action:  path + "/members/remove?user=" + url.QueryEscape(user), Button: "Remove the member", Cancel: path + "#members", Danger: true})
	return nil
}

func (c *Console) orgRemoveMember(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	user := rq.URL.Query().Get("user")
	if user == "" {
		return &APIError{Status: http.StatusBadRequest, Message: "No member was named."}
	}
	if err := rq.API.Do(rq.Context(), http.MethodDelete, "/organizations/"+PathEscape(o.ID)+"/members",
		map[string]any{"members": []string{user}}, nil); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations/"+url.PathEscape(o.ID)+"?removed=1#members", http.StatusSeeOther)
	return nil
}

// orgInvite makes an invitation and shows its link once, to copy.
func (c *Console) orgInvite(w http.ResponseWriter, rq *Request) error {
	p, err := c.loadOrgPage(rq)
	if err != nil {
		return err
	}
	f := rq.PostForm
	p.InviteEmail, p.InviteClient = strings.TrimSpace(f.Get("email")), f.Get("client_id")
	body := map[string]any{"inviter": map[string]any{"name": rq.Admin.Email}, "invitee": map[string]any{"email": p.InviteEmail},
		"client_id": p.InviteClient, "send_invitation_email": false}
	if conn := f.Get("connection_id"); conn != "" {
		body["connection_id"] = conn
	}
	if days, err := strconv.Atoi(f.Get("ttl_days")); err == nil && days > 0 {
		body["ttl_sec"] = days * 24 * 3600
	}
	var inv invitation
	if err := rq.API.Post(rq.Context(), "/organizations/"+PathEscape(p.Org.ID)+"/invitations", body, &inv); err != nil {
		if err := p.FormError(err, "email", "client_id", "connection_id", "ttl_sec"); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "org", p)
		return nil
	}
	p.Invited = &inv
	p.InviteEmail = ""
	p.Invites = append(p.Invites, inv)
	p.Notice = "The invitation was made: copy its link below and send it to " + inv.Invitee.Email + "."
	rq.Render(w, http.StatusOK, "org", p)
	return nil
}

func (c *Console) orgRevokeConfirm(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	var inv invitation
	if err := rq.API.Get(rq.Context(), "/organizations/"+PathEscape(o.ID)+"/invitations/"+PathEscape(rq.PathValue("inv")), &inv); err != nil {
		return err
	}
	path := Prefix + "/organizations/" + url.PathEscape(o.ID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Revoke an invitation", "/organizations"),
		Message: "The invitation of " + inv.Invitee.Email + " to " + o.Name + " is revoked: its link stops working.",
		Action:  path + "/invitations/" + url.PathEscape(inv.ID) + "/revoke", Button: "Revoke the invitation", Cancel: path + "#invitations", Danger: true})
	return nil
}

func (c *Console) orgRevoke(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	if err := rq.API.Delete(rq.Context(), "/organizations/"+PathEscape(o.ID)+"/invitations/"+PathEscape(rq.PathValue("inv"))); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations/"+url.PathEscape(o.ID)+"?revoked=1#invitations", http.StatusSeeOther)
	return nil
}

func (c *Console) orgEnableConnection(w http.ResponseWriter, rq *Request) error {
	p, err := c.loadOrgPage(rq)
	if err != nil {
		return err
	}
	body := map[string]any{"connection_id": rq.PostForm.Get("connection_id"),
		"assign_membership_on_login": rq.PostForm.Get("assign_membership_on_login") == "on"}
	if err := rq.API.Post(rq.Context(), "/organizations/"+PathEscape(p.Org.ID)+"/enabled_connections", body, nil); err != nil {
		if err := p.FormError(err, "connection_id"); err != nil {
			if IsNotFound(err) {
				p.Fields = map[string]string{"connection_id": "Choose one of the connections."}
				p.Error = "The form has an error: see below."
				rq.Render(w, http.StatusBadRequest, "org", p)
				return nil
			}
			return err
		}
		rq.Render(w, http.StatusBadRequest, "org", p)
		return nil
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations/"+url.PathEscape(p.Org.ID)+"?enabled=1#connections", http.StatusSeeOther)
	return nil
}

func (c *Console) orgDisableConnectionConfirm(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	conn := rq.PathValue("conn")
	path := Prefix + "/organizations/" + url.PathEscape(o.ID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Disable a connection of "+orgTitle(o), "/organizations"),
		Message: "The connection " + conn + " is no longer offered on the login page of " + o.Name + ". The connection itself stays.",
		Action:  path + "/connections/" + url.PathEscape(conn) + "/disable", Button: "Disable the connection", Cancel: path + "#connections", Danger: true})
	return nil
}

func (c *Console) orgDisableConnection(w http.ResponseWriter, rq *Request) error {
	o, err := getOrg(rq)
	if err != nil {
		return err
	}
	if err := rq.API.Delete(rq.Context(), "/organizations/"+PathEscape(o.ID)+"/enabled_connections/"+PathEscape(rq.PathValue("conn"))); err != nil {
		return err
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations/"+url.PathEscape(o.ID)+"?disabled=1#connections", http.StatusSeeOther)
	return nil
}
