package store

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Errors of invitations, besides ErrNotFound, ErrAlreadyUsed and ErrRevoked.
var (
	// ErrExpired means the invitation's time is up.
	ErrExpired = errors.New("expired")
	// ErrMismatch means the invitation is for another organization or email.
	ErrMismatch = errors.New("does not match")
)

// Organization usage of an application (Client.OrganizationUsage).
const (
	OrgUsageDeny    = "deny"    // organizations are refused (the default)
	OrgUsageAllow   = "allow"   // logins may be in an organization or not
	OrgUsageRequire = "require" // every login is in an organization
)

// What an application that requires organizations does when /authorize has
// no organization parameter (Client.OrganizationBehavior).
const (
	OrgBehaviorNoPrompt        = "no_prompt"         // an error
	OrgBehaviorPreLoginPrompt  = "pre_login_prompt"  // ask the organization's name before login
	OrgBehaviorPostLoginPrompt = "post_login_prompt" // after login, pick among the user's organizations
)

// Organization is a business customer of an application (B2B).
type Organization struct {
	ID           string // "org_…"
	Name         string // unique lowercase slug
	DisplayName  string
	LogoURL      string
	PrimaryColor string // "#RRGGBB", shown on the hosted pages
	Connections  []OrgConnection
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// PageBackground is the background color of the hosted pages,
	// "#RRGGBB" or "".
	PageBackground string
	// Metadata is the operator's own data about the organization.
	Metadata map[string]string
}

// OrgConnection is a connection enabled for an organization.
type OrgConnection struct {
	Name string
	// AssignMembership makes users who log in through this connection in
	// the organization members automatically.
	AssignMembership bool
}

// Invitation lets one person join an organization.
type Invitation struct {
	ID             string // "inv_…"
	TicketHash     string // hash of the ticket in the invitation link
	OrganizationID string
	Email          string // lower-cased; the invitee must log in or sign up with it
	ClientID       string // the application whose login route the link opens
	Connection     string // optional: the connection the invitee must use
	Inviter        string // optional: the name of who invited, shown to the invitee
	CreatedAt      time.Time
	ExpiresAt      time.Time
	UsedAt         *time.Time
	UsedBy         string // the user who accepted
	Revoked        bool
}

// OrganizationStore keeps organizations, members and invitations.
type OrganizationStore interface {
	CreateOrganization(ctx context.Context, o Organization) error // ErrConflict on a taken ID or name
	GetOrganization(ctx context.Context, id string) (Organization, error)
	GetOrganizationByName(ctx context.Context, name string) (Organization, error)
	ListOrganizations(ctx context.Context) ([]Organization, error)
	// UpdateOrganization replaces every field but ID, CreatedAt and
	// Connections, which only SetOrgConnection changes (so that an update
	// and a connection change at the same moment both hold);
	// ErrNotFound; ErrConflict on a taken name.
	UpdateOrganization(ctx context.Context, o Organization) error
	// DeleteOrganization removes it with its members and invitations.
	DeleteOrganization(ctx context.Context, id string) error // ErrNotFound
	// SetOrgConnection enables (with the membership setting) or disables a
	// connection for an organization, atomically. ErrNotFound for an
	// unknown organization.
	SetOrgConnection(ctx context.Context, orgID string, c OrgConnection, enabled bool) error

	// AddMember is idempotent; ErrNotFound for an unknown organization or user.
	AddMember(ctx context.Context, orgID, userID string) error
	RemoveMember(ctx context.Context, orgID, userID string) error // ErrNotFound when not a member
	ListMembers(ctx context.Context, orgID string) ([]string, error)
	IsMember(ctx context.Context, orgID, userID string) (bool, error)
	// UserOrganizations lists the organizations the user is a member of, by name.
	UserOrganizations(ctx context.Context, userID string) ([]Organization, error)

	CreateInvitation(ctx context.Context, inv Invitation) error // ErrConflict on a taken ID or ticket
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// GetInvitationByTicket finds an invitation by its ticket hash, whatever
	// its state.
	GetInvitationByTicket(ctx context.Context, ticketHash string) (Invitation, error)
	ListInvitations(ctx context.Context, orgID string) ([]Invitation, error)
	RevokeInvitation(ctx context.Context, id string) error // ErrNotFound
	// AcceptInvitation atomically checks the invitation (ErrNotFound unknown,
	// ErrAlreadyUsed, ErrRevoked, ErrExpired at or after ExpiresAt,
	// ErrMismatch when orgID or the lower-cased email differ), marks it used
	// by userID and adds userID to the organization.
	AcceptInvitation(ctx context.Context, ticketHash, orgID, email, userID string, now time.Time) (Invitation, error)
}

// FindOrganization looks an organization up by ID ("org_…") or by name,
// which is compared lower-cased.
func FindOrganization(ctx context.Context, st OrganizationStore, idOrName string) (Organization, error) {
	if strings.HasPrefix(idOrName, "org_") {
		return st.GetOrganization(ctx, idOrName)
	}
	return st.GetOrganizationByName(ctx, strings.ToLower(idOrName))
}
