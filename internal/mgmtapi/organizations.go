package mgmtapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func (a *API) organizationRoutes() {
	a.add("GET", "/organizations", "List organizations", a.listOrganizations, "read:organizations").lists("organizations", orgJSON{}).checkpoints()
	a.add("POST", "/organizations", "Create an organization", a.createOrganization, "create:organizations").accepts(orgCreate{}).returns(201, orgJSON{})
	a.add("GET", "/organizations/{id}", "Get an organization", a.getOrganization, "read:organizations").returns(200, orgJSON{})
	// Served as /organizations/{id}/{name}: net/http's mux finds
	// /organizations/name/{name} ambiguous with /organizations/{id}/members.
	a.add("GET", "/organizations/name/{name}", "Get an organization by its name", a.getOrganizationByName, "read:organizations").returns(200, orgJSON{}).
		servedAs("/organizations/{id}/{name}")
	a.add("PATCH", "/organizations/{id}", "Update an organization", a.patchOrganization, "update:organizations").accepts(orgPatch{}).returns(200, orgJSON{})
	a.add("DELETE", "/organizations/{id}", "Delete an organization", a.deleteOrganization, "delete:organizations").returns(204, nil)

	a.add("GET", "/organizations/{id}/members", "List an organization's members", a.listMembers, "read:organization_members").lists("members", memberJSON{}).checkpoints()
	a.add("POST", "/organizations/{id}/members", "Add members to an organization", a.addMembers, "create:organization_members").accepts(membersBody{}).returns(204, nil)
	a.add("DELETE", "/organizations/{id}/members", "Remove members from an organization", a.removeMembers, "delete:organization_members").accepts(membersBody{}).returns(204, nil)

	a.add("GET", "/organizations/{id}/invitations", "List an organization's invitations", a.listInvitations, "read:organization_invitations").lists("invitations", invitationJSON{})
	a.add("POST", "/organizations/{id}/invitations", "Invite someone to an organization", a.createInvitation, "create:organization_invitations").accepts(invitationCreate{}).returns(201, invitationJSON{})
	a.add("GET", "/organizations/{id}/invitations/{invitation_id}", "Get an invitation", a.getInvitation, "read:organization_invitations").returns(200, invitationJSON{})
	a.add("DELETE", "/organizations/{id}/invitations/{invitation_id}", "Delete an invitation", a.deleteInvitation, "delete:organization_invitations").returns(204, nil)

	a.add("GET", "/organizations/{id}/enabled_connections", "List an organization's connections", a.listOrgConnections, "read:organization_connections").lists("enabled_connections", orgConnectionJSON{})
	a.add("POST", "/organizations/{id}/enabled_connections", "Enable a connection for an organization", a.enableOrgConnection, "create:organization_connections").accepts(orgConnectionCreate{}).returns(201, orgConnectionJSON{})
	a.add("GET", "/organizations/{id}/enabled_connections/{connection_id}", "Get an organization's connection", a.getOrgConnection, "read:organization_connections").returns(200, orgConnectionJSON{})
	a.add("PATCH", "/organizations/{id}/enabled_connections/{connection_id}", "Update an organization's connection", a.patchOrgConnection, "update:organization_connections").accepts(orgConnectionPatch{}).returns(200, orgConnectionJSON{})
	a.add("DELETE", "/organizations/{id}/enabled_connections/{connection_id}", "Disable a connection for an organization", a.disableOrgConnection, "delete:organization_connections").returns(204, nil)
}

// orgColors are the colors of an organization's hosted pages.
type orgColors struct {
	Primary        *string `json:"primary,omitempty"`
	PageBackground *string `json:"page_background,omitempty"`
}

// orgBranding is an organization's look on the hosted pages.
type orgBranding struct {
	LogoURL *string    `json:"logo_url,omitempty"`
	Colors  *orgColors `json:"colors,omitempty"`
}

// orgJSON is an organization as the API shows it.
type orgJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	DisplayName string            `json:"display_name"`
	Branding    *orgBranding      `json:"branding,omitempty"`
	Metadata    map[string]string `json:"metadata"`
}

func toOrgJSON(o store.Organization) orgJSON {
	out := orgJSON{ID: o.ID, Name: o.Name, DisplayName: o.DisplayName, Metadata: o.Metadata}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	if o.LogoURL != "" || o.PrimaryColor != "" || o.PageBackground != "" {
		out.Branding = &orgBranding{LogoURL: opt(o.LogoURL)}
		if o.PrimaryColor != "" || o.PageBackground != "" {
			out.Branding.Colors = &orgColors{Primary: opt(o.PrimaryColor), PageBackground: opt(o.PageBackground)}
		}
	}
	return out
}

// orgConnectionCreate enables a connection for an organization.
// show_as_button can only be true: every connection of an organization
// is a button on its login page.
type orgConnectionCreate struct {
	ConnectionID            string `json:"connection_id"`
	AssignMembershipOnLogin *bool  `json:"assign_membership_on_login"`
	ShowAsButton            *bool  `json:"show_as_button"`
}

type orgPatch struct {
	Name        *string            `json:"name"`
	DisplayName *string            `json:"display_name"`
	Branding    *orgBranding       `json:"branding"`
	Metadata    *map[string]string `json:"metadata"`
}

type orgCreate struct {
	orgPatch
	EnabledConnections []orgConnectionCreate `json:"enabled_connections"`
}

// settings turns the body into the service's settings.
func (in orgPatch) settings() mgmt.OrganizationSettings {
	s := mgmt.OrganizationSettings{Name: in.Name, DisplayName: in.DisplayName, Metadata: in.Metadata}
	if b := in.Branding; b != nil {
		s.LogoURL = b.LogoURL
		if b.Colors != nil {
			s.PrimaryColor, s.PageBackground = b.Colors.Primary, b.Colors.PageBackground
		}
	}
	return s
}

// showAsButton refuses show_as_button false.
func showAsButton(v *bool) error {
	if v != nil && !*v {
		return badRequest("show_as_button cannot be false: the login page of an organization shows each of its connections")
	}
	return nil
}

func (a *API) listOrganizations(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "from", "take"); err != nil {
		return err
	}
	orgs, err := a.svc.ListOrganizations(r.Context())
	if err != nil {
		return err
	}
	// By name: a checkpoint is the last name taken, which stays put.
	slices.SortFunc(orgs, func(x, y store.Organization) int { return strings.Compare(x.Name, y.Name) })
	out := make([]orgJSON, len(orgs))
	for i, o := range orgs {
		out[i] = toOrgJSON(o)
	}
	return writeList(w, r, "organizations", out, func(o orgJSON) string { return o.Name })
}

func (a *API) createOrganization(w http.ResponseWriter, r *http.Request) error {
	var in orgCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Name == nil || *in.Name == "" {
		return badRequest("Payload validation error: name is required")
	}
	s := in.settings()
	for _, c := range in.EnabledConnections {
		if c.ConnectionID == "" {
			return badRequest("Payload validation error: each of enabled_connections needs a connection_id")
		}
		if err := showAsButton(c.ShowAsButton); err != nil {
			return err
		}
		s.Connections = append(s.Connections, store.OrgConnection{Name: c.ConnectionID,
			AssignMembership: c.AssignMembershipOnLogin != nil && *c.AssignMembershipOnLogin})
	}
	o, err := a.svc.CreateOrganization(r.Context(), s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toOrgJSON(o))
	return nil
}

// organization finds the organization of the path's id; only IDs
// ("org_…") are taken here, names have their own route.
func (a *API) organization(r *http.Request) (store.Organization, error) {
	id := r.PathValue("id")
	if !strings.HasPrefix(id, "org_") {
		return store.Organization{}, &mgmt.Error{Status: http.StatusNotFound, Code: "inexistent_organization",
			Message: "organization " + id + " not found; an organization's id starts with org_ (find one by name with /organizations/name/{name})"}
	}
	return a.svc.GetOrganization(r.Context(), id)
}

func (a *API) getOrganization(w http.ResponseWriter, r *http.Request) error {
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOrgJSON(o))
	return nil
}

func (a *API) getOrganizationByName(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") != "name" { // served as /organizations/{id}/{name}
		return &mgmt.Error{Status: http.StatusNotFound, Code: "not_found", Message: "Not Found"}
	}
	name := r.PathValue("name")
	if strings.HasPrefix(name, "org_") {
		// Names may not start so (the pattern allows it, but then the
		// service would read it as an ID).
		return &mgmt.Error{Status: http.StatusNotFound, Code: "inexistent_organization", Message: "organization named " + name + " not found"}
	}
	o, err := a.svc.GetOrganization(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOrgJSON(o))
	return nil
}

func (a *API) patchOrganization(w http.ResponseWriter, r *http.Request) error {
	var in orgPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	o, err = a.svc.UpdateOrganization(r.Context(), o.ID, in.settings())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOrgJSON(o))
	return nil
}

func (a *API) deleteOrganization(w http.ResponseWriter, r *http.Request) error {
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteOrganization(r.Context(), o.ID); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// memberJSON is a member of an organization.
type memberJSON struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email,omitempty"`
	Name    string `json:"name,omitempty"`
	Picture string `json:"picture,omitempty"`
}

type membersBody struct {
	Members []string `json:"members"`
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "from", "take"); err != nil {
		return err
	}
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	users, err := a.svc.ListMemberUsers(r.Context(), o.ID)
	if err != nil {
		return err
	}
	slices.SortFunc(users, func(x, y store.User) int { return strings.Compare(x.ID, y.ID) })
	out := make([]memberJSON, len(users))
	for i, u := range users {
		out[i] = memberJSON{UserID: u.ID, Email: u.Email, Name: u.Name, Picture: u.Picture}
	}
	return writeList(w, r, "members", out, func(m memberJSON) string { return m.UserID })
}

func (a *API) addMembers(w http.ResponseWriter, r *http.Request) error {
	return a.changeMembers(w, r, a.svc.AddMembers)
}

func (a *API) removeMembers(w http.ResponseWriter, r *http.Request) error {
	return a.changeMembers(w, r, a.svc.RemoveMembers)
}

func (a *API) changeMembers(w http.ResponseWriter, r *http.Request, change func(ctx context.Context, org string, ids []string) error) error {
	var in membersBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	if err := change(r.Context(), o.ID, in.Members); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// invitationJSON is an invitation as the API shows it. invitation_url,
// the link the invitee follows, is in the answer to its creation only:
// the ticket in it is stored hashed. app_metadata, user_metadata and
// roles are always empty: invitations carry none here.
type invitationJSON struct {
	ID             string         `json:"id"`
	OrganizationID string         `json:"organization_id"`
	Inviter        inviterJSON    `json:"inviter"`
	Invitee        inviteeJSON    `json:"invitee"`
	InvitationURL  string         `json:"invitation_url,omitempty"`
	ClientID       string         `json:"client_id"`
	ConnectionID   string         `json:"connection_id,omitempty"`
	CreatedAt      string         `json:"created_at"`
	ExpiresAt      string         `json:"expires_at"`
	AppMetadata    map[string]any `json:"app_metadata"`
	UserMetadata   map[string]any `json:"user_metadata"`
	Roles          []string       `json:"roles"`
}

type inviterJSON struct {
	Name string `json:"name"`
}

type inviteeJSON struct {
	Email string `json:"email"`
}

func toInvitationJSON(inv store.Invitation, link string) invitationJSON {
	return invitationJSON{ID: inv.ID, OrganizationID: inv.OrganizationID, Inviter: inviterJSON{Name: inv.Inviter},
		Invitee: inviteeJSON{Email: inv.Email}, InvitationURL: link, ClientID: inv.ClientID, ConnectionID: inv.Connection,
		CreatedAt: timestamp(inv.CreatedAt), ExpiresAt: timestamp(inv.ExpiresAt),
		AppMetadata: map[string]any{}, UserMetadata: map[string]any{}, Roles: []string{}}
}

// invitationCreate is an invitation to make. send_invitation_email can
// only be false: Gatehouse answers with the link, which the caller
// delivers.
type invitationCreate struct {
	Inviter             *inviterJSON   `json:"inviter"`
	Invitee             *inviteeJSON   `json:"invitee"`
	ClientID            string         `json:"client_id"`
	ConnectionID        string         `json:"connection_id"`
	TTLSec              *int           `json:"ttl_sec"`
	SendInvitationEmail *bool          `json:"send_invitation_email"`
	AppMetadata         map[string]any `json:"app_metadata"`
	UserMetadata        map[string]any `json:"user_metadata"`
	Roles               []string       `json:"roles"`
}

// maxTTLSec is the longest life of an invitation or a ticket, 30 days.
const maxTTLSec = 30 * 24 * 3600

func (a *API) listInvitations(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, "invitations", func() ([]store.Invitation, error) {
		o, err := a.organization(r)
		if err != nil {
			return nil, err
		}
		return a.svc.PendingInvitations(r.Context(), o.ID)
	}, func(inv store.Invitation) invitationJSON { return toInvitationJSON(inv, "") })
}

func (a *API) createInvitation(w http.ResponseWriter, r *http.Request) error {
	var in invitationCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	switch {
	case in.Inviter == nil || strings.TrimSpace(in.Inviter.Name) == "" || in.Invitee == nil || in.Invitee.Email == "" || in.ClientID == "":
		return badRequest("Payload validation error: inviter.name, invitee.email and client_id are required")
	case in.SendInvitationEmail != nil && *in.SendInvitationEmail:
		return badRequest("send_invitation_email must be false: Gatehouse returns the invitation_url for you to deliver")
	case len(in.AppMetadata) > 0 || len(in.UserMetadata) > 0 || len(in.Roles) > 0:
		return badRequest("app_metadata, user_metadata and roles are not supported on invitations")
	case in.TTLSec != nil && (*in.TTLSec < 0 || *in.TTLSec > maxTTLSec):
		return badRequest("ttl_sec must be from 0 (the default, 7 days) to %d (30 days)", maxTTLSec)
	}
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	ni := mgmt.NewInvitation{Organization: o.ID, Email: in.Invitee.Email, ClientID: in.ClientID,
		Connection: in.ConnectionID, Inviter: strings.TrimSpace(in.Inviter.Name)}
	if in.TTLSec != nil {
		ni.TTL = time.Duration(*in.TTLSec) * time.Second
	}
	inv, link, err := a.svc.CreateInvitation(r.Context(), ni)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toInvitationJSON(inv, link))
	return nil
}

func (a *API) getInvitation(w http.ResponseWriter, r *http.Request) error {
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	inv, err := a.svc.GetInvitation(r.Context(), o.ID, r.PathValue("invitation_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toInvitationJSON(inv, ""))
	return nil
}

func (a *API) deleteInvitation(w http.ResponseWriter, r *http.Request) error {
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteInvitation(r.Context(), o.ID, r.PathValue("invitation_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// orgConnectionJSON is a connection enabled for an organization.
type orgConnectionJSON struct {
	ConnectionID            string             `json:"connection_id"`
	AssignMembershipOnLogin bool               `json:"assign_membership_on_login"`
	ShowAsButton            bool               `json:"show_as_button"`
	Connection              orgConnectionBrief `json:"connection"`
}

type orgConnectionBrief struct {
	Name     string `json:"name"`
	Strategy string `json:"strategy"`
}

func toOrgConnectionJSON(oc mgmt.OrganizationConnection) orgConnectionJSON {
	return orgConnectionJSON{ConnectionID: oc.Name, AssignMembershipOnLogin: oc.AssignMembership, ShowAsButton: true,
		Connection: orgConnectionBrief{Name: oc.Connection.Name, Strategy: apiStrategy(oc.Connection.Strategy)}}
}

type orgConnectionPatch struct {
	AssignMembershipOnLogin *bool `json:"assign_membership_on_login"`
	ShowAsButton            *bool `json:"show_as_button"`
}

func (a *API) listOrgConnections(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, "enabled_connections", func() ([]mgmt.OrganizationConnection, error) {
		o, err := a.organization(r)
		if err != nil {
			return nil, err
		}
		return a.svc.ListOrganizationConnections(r.Context(), o.ID)
	}, toOrgConnectionJSON)
}

func (a *API) enableOrgConnection(w http.ResponseWriter, r *http.Request) error {
	var in orgConnectionCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ConnectionID == "" {
		return badRequest("Payload validation error: connection_id is required")
	}
	if err := showAsButton(in.ShowAsButton); err != nil {
		return err
	}
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	oc, err := a.svc.EnableOrganizationConnection(r.Context(), o.ID, in.ConnectionID,
		in.AssignMembershipOnLogin != nil && *in.AssignMembershipOnLogin)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toOrgConnectionJSON(oc))
	return nil
}

func (a *API) getOrgConnection(w http.ResponseWriter, r *http.Request) error {
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	oc, err := a.svc.GetOrganizationConnection(r.Context(), o.ID, r.PathValue("connection_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOrgConnectionJSON(oc))
	return nil
}

func (a *API) patchOrgConnection(w http.ResponseWriter, r *http.Request) error {
	var in orgConnectionPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := showAsButton(in.ShowAsButton); err != nil {
		return err
	}
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	oc, err := a.svc.GetOrganizationConnection(r.Context(), o.ID, r.PathValue("connection_id"))
	if err != nil {
		return err
	}
	if in.AssignMembershipOnLogin != nil && *in.AssignMembershipOnLogin != oc.AssignMembership {
		if oc, err = a.svc.UpdateOrganizationConnection(r.Context(), o.ID, oc.Name, *in.AssignMembershipOnLogin); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, toOrgConnectionJSON(oc))
	return nil
}

func (a *API) disableOrgConnection(w http.ResponseWriter, r *http.Request) error {
	o, err := a.organization(r)
	if err != nil {
		return err
	}
	if err := a.svc.DisableOrganizationConnection(r.Context(), o.ID, r.PathValue("connection_id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// servedAs serves the route under another mux pattern than its path,
// which the route's handler then checks: for a path that net/http's mux
// finds ambiguous with another route's, where the hosted service's paths
// overlap.
func (rt *Route) servedAs(pattern string) *Route { rt.muxPath = pattern; return rt }
