package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// orgUsage is the client's organization usage, "" meaning deny.
func orgUsage(c store.Client) string {
	if c.OrganizationUsage == "" {
		return store.OrgUsageDeny
	}
	return c.OrganizationUsage
}

// validateOrganization checks organization= and invitation= (and the
// client's requirement) and records them on req.
func (p *Provider) validateOrganization(ctx context.Context, a authorizeParams, client store.Client, req *store.AuthRequest) (*Error, error) {
	usage := orgUsage(client)
	if a.Invitation != "" && a.Organization == "" {
		return newError(ErrInvalidRequest, "an invitation needs the organization parameter"), nil
	}
	if a.Organization == "" {
		if usage == store.OrgUsageRequire && (client.OrganizationBehavior == "" || client.OrganizationBehavior == store.OrgBehaviorNoPrompt) {
			return newError(ErrInvalidRequest, "the application requires an organization: pass the organization parameter"), nil
		}
		return nil, nil
	}
	if usage == store.OrgUsageDeny {
		return newError(ErrInvalidRequest, "the application does not use organizations"), nil
	}
	org, err := store.FindOrganization(ctx, p.cfg.Store, a.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return newError(ErrInvalidRequest, "organization %s does not exist", a.Organization), nil
	}
	if err != nil {
		return nil, fmt.Errorf("get organization: %w", err)
	}
	req.Organization = org.ID
	if a.Connection != "" && !slices.ContainsFunc(org.Connections, func(c store.OrgConnection) bool { return c.Name == a.Connection }) {
		return newError(ErrInvalidRequest, "connection %s is not enabled for organization %s", a.Connection, org.Name), nil
	}
	if a.Invitation != "" {
		inv, err := p.cfg.Store.GetInvitationByTicket(ctx, token.Hash(a.Invitation))
		if errors.Is(err, store.ErrNotFound) {
			return newError(ErrInvalidRequest, "the invitation is not valid"), nil
		}
		if err != nil {
			return nil, fmt.Errorf("get invitation: %w", err)
		}
		if e := invitationProblem(inv, org.ID, p.now()); e != nil {
			return e, nil
		}
		req.InvitationHash = inv.TicketHash
		if req.LoginHint == "" {
			req.LoginHint = inv.Email
		}
	}
	return nil, nil
}

// invitationProblem explains why an invitation cannot be accepted, or nil.
func invitationProblem(inv store.Invitation, orgID string, now time.Time) *Error {
	switch {
	case inv.Revoked:
		return newError(ErrInvalidRequest, "the invitation was revoked")
	case inv.UsedAt != nil:
		return newError(ErrInvalidRequest, "the invitation was already used")
	case !now.Before(inv.ExpiresAt):
		return newError(ErrInvalidRequest, "the invitation has expired")
	case inv.OrganizationID != orgID:
		return newError(ErrInvalidRequest, "the invitation is for another organization")
	}
	return nil
}

// needsPreLoginPrompt reports whether the request must ask for an
// organization before login.
func needsPreLoginPrompt(client store.Client, req store.AuthRequest) bool {
	return req.Organization == "" && orgUsage(client) == store.OrgUsageRequire && client.OrganizationBehavior == store.OrgBehaviorPreLoginPrompt
}

// needsPostLoginPrompt reports whether the user must pick one of their
// organizations after login.
func needsPostLoginPrompt(client store.Client, req store.AuthRequest) bool {
	return req.Organization == "" && orgUsage(client) == store.OrgUsageRequire && client.OrganizationBehavior == store.OrgBehaviorPostLoginPrompt
}

// joinOrganization makes sure the logged-in user belongs to the request's
// organization: by accepting the invitation, by automatic membership of
// the user's connection, or because they are a member already.
func (p *Provider) joinOrganization(ctx context.Context, req store.AuthRequest, user store.User) (*Error, error) {
	st := p.cfg.Store
	org, err := st.GetOrganization(ctx, req.Organization)
	if errors.Is(err, store.ErrNotFound) {
		return newError(ErrInvalidRequest, "the organization no longer exists"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("get organization: %w", err)
	}
	if req.InvitationHash != "" {
		_, err := st.AcceptInvitation(ctx, req.InvitationHash, org.ID, user.Email, user.ID, p.now())
		switch {
		case err == nil:
			return nil, nil
		case errors.Is(err, store.ErrMismatch):
			return newError(ErrAccessDenied, "the invitation is for another email address"), nil
		case errors.Is(err, store.ErrAlreadyUsed):
			// The same request comes back here after the consent page: an
			// invitation this user accepted is theirs.
			if inv, gerr := st.GetInvitationByTicket(ctx, req.InvitationHash); gerr == nil && inv.UsedBy == user.ID && inv.OrganizationID == org.ID {
				return nil, nil
			}
			return newError(ErrAccessDenied, "the invitation was already used"), nil
		case errors.Is(err, store.ErrExpired):
			return newError(ErrAccessDenied, "the invitation has expired"), nil
		case errors.Is(err, store.ErrRevoked):
			return newError(ErrAccessDenied, "the invitation was revoked"), nil
		case errors.Is(err, store.ErrNotFound):
			return newError(ErrAccessDenied, "the invitation is not valid"), nil
		}
		return nil, fmt.Errorf("accept invitation: %w", err)
	}
	member, err := st.IsMember(ctx, org.ID, user.ID)
	if err != nil {
		return nil, fmt.Errorf("check membership: %w", err)
	}
	if member {
		return nil, nil
	}
	auto := slices.ContainsFunc(org.Connections, func(c store.OrgConnection) bool { return c.Name == user.Connection && c.AssignMembership })
	if !auto {
		// The description goes into the redirect URL: no email address.
		return newError(ErrAccessDenied, "the user is not a member of the organization %s", org.Name), nil
	}
	if err := st.AddMember(ctx, org.ID, user.ID); err != nil {
		return nil, fmt.Errorf("add member: %w", err)
	}
	return nil, nil
}
