package console

import (
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/mgmt"
)

// orgRoleRoutes are an organization member's roles: the roles the member
// holds in that organization (in its tokens' claims when the member logs
// in there), with assignment and removal.
func (c *Console) orgRoleRoutes() {
	c.page("GET "+Prefix+"/organizations/{id}/members/{user}/roles", c.memberRoles)
	c.page("POST "+Prefix+"/organizations/{id}/members/{user}/roles", c.memberAssignRole)
	c.page("POST "+Prefix+"/organizations/{id}/members/{user}/roles/remove", c.memberRemoveRole)
}

type memberRolesPage struct {
	Page
	Org    organization
	UserID string
	Roles  []role
	// Options are the roles to assign: those not held, without the
	// console's own admin roles (which are not organization roles).
	Options []role
}

func (c *Console) loadMemberRoles(rq *Request) (memberRolesPage, error) {
	o, err := getOrg(rq)
	if err != nil {
		return memberRolesPage{}, err
	}
	user := rq.PathValue("user")
	p := memberRolesPage{Page: rq.NewPage("Roles of "+user+" in "+orgTitle(o), "/organizations"), Org: o, UserID: user}
	if p.Roles, err = allOf[role](rq, "/organizations/"+PathEscape(o.ID)+"/members/"+PathEscape(user)+"/roles", "roles"); err != nil {
		return p, err
	}
	if p.CanEdit() {
		all, err := allOf[role](rq, "/roles", "roles")
		if err != nil {
			return p, err
		}
		held := map[string]bool{}
		for _, r := range p.Roles {
			held[r.ID] = true
		}
		for _, r := range all {
			if !held[r.ID] && r.Name != mgmt.AdminRole && r.Name != mgmt.ReadOnlyAdminRole {
				p.Options = append(p.Options, r)
			}
		}
	}
	return p, nil
}

func (c *Console) memberRoles(w http.ResponseWriter, rq *Request) error {
	p, err := c.loadMemberRoles(rq)
	if err != nil {
		return err
	}
	switch rq.URL.Query().Get("done") {
	case "assigned":
		p.Notice = "The role was assigned."
	case "removed":
		p.Notice = "The role was removed."
	}
	rq.Render(w, http.StatusOK, "member_roles", p)
	return nil
}

func (c *Console) memberRoleChange(w http.ResponseWriter, rq *Request, method, done string) error {
	if rq.Admin.ReadOnly {
		return &APIError{Status: http.StatusForbidden, Message: "Your admin role is read-only: you cannot change a member's roles."}
	}
	p, err := c.loadMemberRoles(rq)
	if err != nil {
		return err
	}
	id := strings.TrimSpace(rq.PostForm.Get("role"))
	if id == "" {
		p.Fields, p.Error = map[string]string{"role": "Choose a role."}, "The form has an error: see below."
		rq.Render(w, http.StatusBadRequest, "member_roles", p)
		return nil
	}
	path := "/organizations/" + PathEscape(p.Org.ID) + "/members/" + PathEscape(p.UserID) + "/roles"
	if err := rq.API.Do(rq.Context(), method, path, map[string]any{"roles": []string{id}}, nil); err != nil {
		if IsNotFound(err) && method == http.MethodPost {
			p.Fields, p.Error = map[string]string{"role": err.(*APIError).Message}, "The form has an error: see below."
			rq.Render(w, http.StatusBadRequest, "member_roles", p)
			return nil
		}
		if err := p.FormError(err, "role", "roles"); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "member_roles", p)
		return nil
	}
	http.Redirect(w, rq.Request, Prefix+"/organizations/"+url.PathEscape(p.Org.ID)+"/members/"+url.PathEscape(p.UserID)+"/roles?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) memberAssignRole(w http.ResponseWriter, rq *Request) error {
	return c.memberRoleChange(w, rq, http.MethodPost, "assigned")
}

func (c *Console) memberRemoveRole(w http.ResponseWriter, rq *Request) error {
	return c.memberRoleChange(w, rq, http.MethodDelete, "removed")
}
