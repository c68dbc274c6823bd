package mgmt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

var (
	orgNamePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,49}$`)
	orgColorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// randomID returns prefix and 16 random hex characters.
func randomID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// OrganizationSettings are the settings of an organization that create and
// update take; a nil field keeps its value on update.
type OrganizationSettings struct {
	Name         *string // unique, lowercase: a-z 0-9 -
	DisplayName  *string // shown on the hosted pages; the name by default
	LogoURL      *string // https
	PrimaryColor *string // #RRGGBB
	// PageBackground is the background color of the hosted pages,
	// #RRGGBB.
	PageBackground *string
	// Metadata is the operator's own data: up to 25 keys of up to 255
	// characters, each with a string value of up to 255 characters. It
	// replaces the stored metadata.
	Metadata *map[string]string
	// Connections, on create only, are the connections to enable for the
	// new organization; each must exist.
	Connections []store.OrgConnection
}

func (in OrganizationSettings) apply(o *store.Organization) {
	set(&o.Name, in.Name)
	set(&o.DisplayName, in.DisplayName)
	set(&o.LogoURL, in.LogoURL)
	set(&o.PrimaryColor, in.PrimaryColor)
	set(&o.PageBackground, in.PageBackground)
	set(&o.Metadata, in.Metadata)
}

// Bounds of organization metadata, those of the hosted service.
const (
	maxOrgMetadataKeys = 25
	maxOrgMetadataLen  = 255
	maxDisplayNameLen  = 255
)

func validateOrganization(o store.Organization) error {
	if !orgNamePattern.MatchString(o.Name) {
		return invalid("name", "organization name %q must be 1 to 50 characters of a-z 0-9 - (starting with a letter or digit)", o.Name)
	}
	if o.LogoURL != "" {
		u, err := url.Parse(o.LogoURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return invalid("logo_url", "logo URL %q must be an https URL", o.LogoURL)
		}
	}
	if o.PrimaryColor != "" && !orgColorPattern.MatchString(o.PrimaryColor) {
		return invalid("primary", "color %q must be #RRGGBB", o.PrimaryColor)
	}
	if o.PageBackground != "" && !orgColorPattern.MatchString(o.PageBackground) {
		return invalid("page_background", "color %q must be #RRGGBB", o.PageBackground)
	}
	if utf8.RuneCountInString(o.DisplayName) > maxDisplayNameLen {
		return invalid("display_name", "display_name must be at most %d characters", maxDisplayNameLen)
	}
	if len(o.Metadata) > maxOrgMetadataKeys {
		return invalid("metadata", "metadata has %d keys; at most %d are allowed", len(o.Metadata), maxOrgMetadataKeys)
	}
	for k, v := range o.Metadata {
		if k == "" || utf8.RuneCountInString(k) > maxOrgMetadataLen || utf8.RuneCountInString(v) > maxOrgMetadataLen {
			return invalid("metadata", "metadata keys must be 1 to %d characters and values at most %d", maxOrgMetadataLen, maxOrgMetadataLen)
		}
	}
	return nil
}

// CreateOrganization creates an organization with a new ID ("org_…").
func (s *Service) CreateOrganization(ctx context.Context, in OrganizationSettings) (store.Organization, error) {
	now := s.now()
	o := store.Organization{ID: randomID("org_"), CreatedAt: now, UpdatedAt: now}
	in.apply(&o)
	if o.DisplayName == "" {
		o.DisplayName = o.Name
	}
	if err := validateOrganization(o); err != nil {
		return store.Organization{}, err
	}
	for _, oc := range in.Connections {
		if _, err := s.GetConnection(ctx, oc.Name); err != nil {
			return store.Organization{}, err
		}
		if slices.ContainsFunc(o.Connections, func(c store.OrgConnection) bool { return c.Name == oc.Name }) {
			return store.Organization{}, invalid("enabled_connections", "connection %s is listed twice", oc.Name)
		}
		o.Connections = append(o.Connections, oc)
	}
	if err := s.st.CreateOrganization(ctx, o); err != nil {
		return store.Organization{}, conflict(err, "an organization named %q", o.Name)
	}
	return o, nil
}

// GetOrganization finds an organization by ID ("org_…") or by name.
func (s *Service) GetOrganization(ctx context.Context, idOrName string) (store.Organization, error) {
	o, err := store.FindOrganization(ctx, s.st, idOrName)
	if err != nil {
		return store.Organization{}, notFound(err, "organization", idOrName)
	}
	return o, nil
}

// ListOrganizations returns every organization.
func (s *Service) ListOrganizations(ctx context.Context) ([]store.Organization, error) {
	return s.st.ListOrganizations(ctx)
}

// UpdateOrganization changes the settings that are set.
func (s *Service) UpdateOrganization(ctx context.Context, idOrName string, in OrganizationSettings) (store.Organization, error) {
	if in.Connections != nil {
		return store.Organization{}, invalid("enabled_connections", "enabled_connections is set on create only; change them one by one")
	}
	o, err := s.GetOrganization(ctx, idOrName)
	if err != nil {
		return store.Organization{}, err
	}
	in.apply(&o)
	if err := validateOrganization(o); err != nil {
		return store.Organization{}, err
	}
	o.UpdatedAt = s.now()
	if err := s.st.UpdateOrganization(ctx, o); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Organization{}, notFound(err, "organization", idOrName)
		}
		return store.Organization{}, conflict(err, "an organization named %q", o.Name)
	}
	return o, nil
}

// DeleteOrganization removes the organization with its memberships and
// invitations.
func (s *Service) DeleteOrganization(ctx context.Context, idOrName string) error {
	o, err := s.GetOrganization(ctx, idOrName)
	if err != nil {
		return err
	}
	if err := s.st.DeleteOrganization(ctx, o.ID); err != nil {
		return notFound(err, "organization", idOrName)
	}
	return nil
}

// ListMembers returns the user IDs of the organization's members.
func (s *Service) ListMembers(ctx context.Context, org string) ([]string, error) {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return nil, err
	}
	return s.st.ListMembers(ctx, o.ID)
}

// AddMember makes a user, found by ID or database email, a member of the
// organization; being one already is no error.
func (s *Service) AddMember(ctx context.Context, org, user string) (store.Organization, store.User, error) {
	o, u, err := s.orgAndUser(ctx, org, user)
	if err != nil {
		return o, u, err
	}
	if err := s.st.AddMember(ctx, o.ID, u.ID); err != nil {
		return o, u, fmt.Errorf("add member: %w", err)
	}
	return o, u, nil
}

// RemoveMember ends a user's membership of the organization.
func (s *Service) RemoveMember(ctx context.Context, org, user string) (store.Organization, store.User, error) {
	o, u, err := s.orgAndUser(ctx, org, user)
	if err != nil {
		return o, u, err
	}
	if err := s.st.RemoveMember(ctx, o.ID, u.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return o, u, &Error{Status: http.StatusNotFound, Code: "inexistent_member", Message: fmt.Sprintf("%s is not a member of %s", u.ID, o.Name), err: err}
		}
		return o, u, fmt.Errorf("remove member: %w", err)
	}
	return o, u, nil
}

func (s *Service) orgAndUser(ctx context.Context, org, user string) (store.Organization, store.User, error) {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return store.Organization{}, store.User{}, err
	}
	u, err := s.FindUser(ctx, user)
	return o, u, err
}

// SetOrganizationConnection enables a connection for the organization, with
// automatic membership for the users who log in through it or not, or
// disables it.
func (s *Service) SetOrganizationConnection(ctx context.Context, org, connection string, assignMembership, enabled bool) (store.Organization, error) {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return store.Organization{}, err
	}
	if _, err := s.GetConnection(ctx, connection); err != nil {
		return store.Organization{}, err
	}
	err = s.st.SetOrgConnection(ctx, o.ID, store.OrgConnection{Name: connection, AssignMembership: assignMembership}, enabled)
	if err != nil {
		return store.Organization{}, notFound(err, "organization", org)
	}
	return o, nil
}

// NewInvitation is an invitation to join an organization.
type NewInvitation struct {
	Organization string // ID or name
	Email        string // the invitee's
	// ClientID is the application whose login route the invitation opens.
	ClientID string
	// Connection, when set, is the connection the invitee must use.
	Connection string
	TTL        time.Duration // how long it is valid: 1s to 30 days, 7 days when zero
	// Inviter, optional, is the name of who invites (up to 300
	// characters).
	Inviter string
}

// CreateInvitation invites someone to join an organization. It returns the
// invitation and its link, which holds the ticket: the ticket is stored
// only hashed, so the link is shown once.
func (s *Service) CreateInvitation(ctx context.Context, in NewInvitation) (store.Invitation, string, error) {
	if in.TTL == 0 {
		in.TTL = 7 * 24 * time.Hour
	}
	if in.TTL < time.Second || in.TTL > 30*24*time.Hour {
		return store.Invitation{}, "", invalid("ttl", "ttl must be between 1s and 30d")
	}
	if err := checkInviter(in.Inviter); err != nil {
		return store.Invitation{}, "", err
	}
	addr := strings.ToLower(strings.TrimSpace(in.Email))
	if !strings.Contains(addr, "@") || strings.ContainsAny(addr, " <>\"") {
		return store.Invitation{}, "", invalid("email", "%q is not a valid email address", in.Email)
	}
	o, err := s.GetOrganization(ctx, in.Organization)
	if err != nil {
		return store.Invitation{}, "", err
	}
	client, err := s.GetClient(ctx, in.ClientID)
	if err != nil {
		return store.Invitation{}, "", err
	}
	if client.InitiateLoginURI == "" {
		return store.Invitation{}, "", refused("initiate_login_uri", "application %s has no login route (initiate_login_uri) for invitation links to open", client.ID)
	}
	if client.OrganizationUsage == "" || client.OrganizationUsage == store.OrgUsageDeny {
		return store.Invitation{}, "", refused("organization_usage", "application %s does not use organizations: its organization usage must be allow or require", client.ID)
	}
	if in.Connection != "" {
		if _, err := s.GetConnection(ctx, in.Connection); err != nil {
			return store.Invitation{}, "", err
		}
	}
	ticket := token.NewOpaque()
	now := s.now()
	inv := store.Invitation{ID: randomID("inv_"), TicketHash: token.Hash(ticket), OrganizationID: o.ID, Email: addr,
		ClientID: client.ID, Connection: in.Connection, Inviter: in.Inviter, CreatedAt: now, ExpiresAt: now.Add(in.TTL)}
	if err := s.st.CreateInvitation(ctx, inv); err != nil {
		return store.Invitation{}, "", fmt.Errorf("create invitation: %w", err)
	}
	q := url.Values{"invitation": {ticket}, "organization": {o.ID}, "organization_name": {o.Name}}
	sep := "?"
	if strings.Contains(client.InitiateLoginURI, "?") {
		sep = "&"
	}
	return inv, client.InitiateLoginURI + sep + q.Encode(), nil
}

// ListInvitations returns the organization's invitations, whatever their
// state.
func (s *Service) ListInvitations(ctx context.Context, org string) ([]store.Invitation, error) {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return nil, err
	}
	return s.st.ListInvitations(ctx, o.ID)
}

// RevokeInvitation revokes an invitation, used or not.
func (s *Service) RevokeInvitation(ctx context.Context, id string) error {
	if err := s.st.RevokeInvitation(ctx, id); err != nil {
		return notFound(err, "invitation", id)
	}
	return nil
}
