package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"gatehouse/internal/store"
	"gatehouse/web"
)

// page is the frame every hosted page of a request shares: the
// application's name and, in an organization, its branding.
func (p *Pages) page(ctx context.Context, req store.AuthRequest, client store.Client) web.Page {
	pg := web.Page{AppName: client.Name}
	if req.Organization == "" {
		return pg
	}
	org, err := p.cfg.Store.GetOrganization(ctx, req.Organization)
	if err != nil {
		p.cfg.Log.Warn("organization branding", "org_id", req.Organization, "err", err)
		return pg
	}
	pg.Org = &web.OrgBranding{ID: org.ID, DisplayName: org.DisplayName, LogoURL: org.LogoURL, HasColor: org.PrimaryColor != ""}
	if pg.Org.DisplayName == "" {
		pg.Org.DisplayName = org.Name
	}
	return pg
}

// invitation returns the request's pending invitation.
func (p *Pages) invitation(ctx context.Context, req store.AuthRequest) (store.Invitation, bool) {
	if req.InvitationHash == "" {
		return store.Invitation{}, false
	}
	inv, err := p.cfg.Store.GetInvitationByTicket(ctx, req.InvitationHash)
	if err != nil {
		return store.Invitation{}, false
	}
	return inv, true
}

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// orgTheme serves an organization's primary color as a stylesheet, so the
// pages' Content-Security-Policy needs no inline styles.
func (p *Pages) orgTheme(w http.ResponseWriter, r *http.Request) {
	org, err := p.cfg.Store.GetOrganization(r.Context(), r.PathValue("id"))
	if err != nil || !colorPattern.MatchString(org.PrimaryColor) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	fmt.Fprintf(w, ":root { --accent: %s; }\n", strings.ToLower(org.PrimaryColor))
}

// organizationForm asks for the organization's name (pre-login prompt) or,
// once the user is logged in, lets them pick one of their organizations.
func (p *Pages) organizationForm(w http.ResponseWriter, r *http.Request) {
	req, client, ok := p.request(w, r, r.URL.Query().Get("req"))
	if !ok {
		return
	}
	page, ok := p.organizationPage(w, r, req, client)
	if !ok {
		return
	}
	p.cfg.Pages.Organization(w, http.StatusOK, page)
}

func (p *Pages) organizationPage(w http.ResponseWriter, r *http.Request, req store.AuthRequest, client store.Client) (web.OrganizationPage, bool) {
	page := web.OrganizationPage{Page: p.page(r.Context(), req, client), RequestID: req.ID, CSRF: p.csrfToken(w, r)}
	if client.OrganizationBehavior != store.OrgBehaviorPostLoginPrompt {
		return page, true
	}
	user, ok := p.sessionUser(w, r, req)
	if !ok {
		return page, false
	}
	orgs, err := p.cfg.Store.UserOrganizations(r.Context(), user.ID)
	if err != nil {
		p.internalError(w, "organization page", err)
		return page, false
	}
	if len(orgs) == 0 {
		p.errorPage(w, http.StatusForbidden, fmt.Sprintf("%s is not a member of any organization of %s. Ask an administrator for an invitation.", user.Email, client.Name))
		return page, false
	}
	page.Choices = []web.OrgChoice{}
	for _, o := range orgs {
		name := o.DisplayName
		if name == "" {
			name = o.Name
		}
		page.Choices = append(page.Choices, web.OrgChoice{ID: o.ID, DisplayName: name})
	}
	return page, true
}

func (p *Pages) organizationSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, client, ok := p.request(w, r, r.PostForm.Get("req"))
	if !ok {
		return
	}
	value := strings.TrimSpace(r.PostForm.Get("organization"))
	page, ok := p.organizationPage(w, r, req, client)
	if !ok {
		return
	}
	var org store.Organization
	var err error
	if page.Choices != nil {
		// Post-login: only one of the user's own organizations.
		found := false
		for _, c := range page.Choices {
			found = found || c.ID == value
		}
		if !found {
			page.Error = "Choose one of your organizations."
			p.cfg.Pages.Organization(w, http.StatusBadRequest, page)
			return
		}
		org, err = p.cfg.Store.GetOrganization(ctx, value)
	} else {
		page.Name = value
		if value == "" {
			page.Error, page.ErrorField = "Enter your organization's name.", "organization"
			p.cfg.Pages.Organization(w, http.StatusBadRequest, page)
			return
		}
		org, err = p.cfg.Store.GetOrganizationByName(ctx, strings.ToLower(value))
		if errors.Is(err, store.ErrNotFound) {
			page.Error, page.ErrorField = fmt.Sprintf("There is no organization named %q.", value), "organization"
			p.cfg.Pages.Organization(w, http.StatusNotFound, page)
			return
		}
	}
	if err != nil {
		p.internalError(w, "organization: get", err)
		return
	}
	if err := p.cfg.Store.SetAuthRequestOrganization(ctx, req.ID, org.ID); err != nil {
		p.internalError(w, "organization: set", err)
		return
	}
	http.Redirect(w, r, resumePath+"?req="+url.QueryEscape(req.ID), http.StatusSeeOther)
}
