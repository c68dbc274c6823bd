package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"unicode/utf8"

	"gatehouse/internal/store"
)

// maxMembersPerCall bounds the users one call adds or removes, as the
// hosted service does.
const maxMembersPerCall = 10

// maxInviterLen bounds an invitation's inviter name.
const maxInviterLen = 300

// memberIDs checks a list of user IDs to add or remove: 1 to 10, each a
// user that exists. Repeated IDs count once.
func (s *Service) memberIDs(ctx context.Context, userIDs []string) ([]string, error) {
	if len(userIDs) == 0 || len(userIDs) > maxMembersPerCall {
		return nil, invalid("members", "members must list 1 to %d user IDs", maxMembersPerCall)
	}
	var ids []string
	for _, id := range userIDs {
		if slices.Contains(ids, id) {
			continue
		}
		if _, err := s.GetUser(ctx, id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// AddMembers makes the users members of the organization; those who are
// members already stay so. Every user must exist: none is added otherwise.
func (s *Service) AddMembers(ctx context.Context, org string, userIDs []string) error {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return err
	}
	ids, err := s.memberIDs(ctx, userIDs)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.st.AddMember(ctx, o.ID, id); err != nil {
			// A user deleted since the check.
			return notFound(err, "user", id)
		}
	}
	return nil
}

// RemoveMembers ends the users' memberships of the organization; a user
// who is not a member is no error, but every user must exist.
func (s *Service) RemoveMembers(ctx context.Context, org string, userIDs []string) error {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return err
	}
	ids, err := s.memberIDs(ctx, userIDs)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.st.RemoveMember(ctx, o.ID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("remove member: %w", err)
		}
	}
	return nil
}

// ListMemberUsers returns the organization's members, by user ID.
func (s *Service) ListMemberUsers(ctx context.Context, org string) ([]store.User, error) {
	ids, err := s.ListMembers(ctx, org)
	if err != nil {
		return nil, err
	}
	users := make([]store.User, 0, len(ids))
	for _, id := range ids {
		u, err := s.st.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the list was read
		}
		if err != nil {
			return nil, fmt.Errorf("list members: %w", err)
		}
		users = append(users, u)
	}
	return users, nil
}

// PendingInvitations returns the organization's invitations that are
// neither accepted nor revoked, expired ones included, oldest first.
func (s *Service) PendingInvitations(ctx context.Context, org string) ([]store.Invitation, error) {
	all, err := s.ListInvitations(ctx, org)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(inv store.Invitation) bool { return !pending(inv) }), nil
}

func pending(inv store.Invitation) bool { return inv.UsedAt == nil && !inv.Revoked }

// GetInvitation returns a pending invitation of the organization. An
// accepted or revoked invitation is not found, as it cannot be used.
func (s *Service) GetInvitation(ctx context.Context, org, id string) (store.Invitation, error) {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return store.Invitation{}, err
	}
	inv, err := s.st.GetInvitation(ctx, id)
	if err == nil && (inv.OrganizationID != o.ID || !pending(inv)) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Invitation{}, notFound(err, "invitation", id)
	}
	return inv, nil
}

// DeleteInvitation revokes a pending invitation of the organization.
func (s *Service) DeleteInvitation(ctx context.Context, org, id string) error {
	inv, err := s.GetInvitation(ctx, org, id)
	if err != nil {
		return err
	}
	return s.RevokeInvitation(ctx, inv.ID)
}

// OrganizationConnection is a connection enabled for an organization.
type OrganizationConnection struct {
	store.OrgConnection
	Connection store.Connection
}

// ListOrganizationConnections returns the connections enabled for the
// organization, by name. A connection deleted since it was enabled is left
// out: logins cannot use it.
func (s *Service) ListOrganizationConnections(ctx context.Context, org string) ([]OrganizationConnection, error) {
	o, err := s.GetOrganization(ctx, org)
	if err != nil {
		return nil, err
	}
	out := make([]OrganizationConnection, 0, len(o.Connections))
	for _, oc := range o.Connections {
		c, err := s.st.GetConnection(ctx, oc.Name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list organization connections: %w", err)
		}
		out = append(out, OrganizationConnection{OrgConnection: oc, Connection: c})
	}
	return out, nil
}

// GetOrganizationConnection returns a connection enabled for the
// organization.
func (s *Service) GetOrganizationConnection(ctx context.Context, org, connection string) (OrganizationConnection, error) {
	all, err := s.ListOrganizationConnections(ctx, org)
	if err != nil {
		return OrganizationConnection{}, err
	}
	for _, oc := range all {
		if oc.Name == connection {
			return oc, nil
		}
	}
	return OrganizationConnection{}, &Error{Status: http.StatusNotFound, Code: "inexistent_connection",
		Message: fmt.Sprintf("connection %q is not enabled for organization %q", connection, org), err: store.ErrNotFound}
}

// EnableOrganizationConnection enables a connection for the organization;
// a connection enabled already is a conflict (change it with
// UpdateOrganizationConnection).
func (s *Service) EnableOrganizationConnection(ctx context.Context, org, connection string, assignMembership bool) (OrganizationConnection, error) {
	if _, err := s.GetOrganizationConnection(ctx, org, connection); err == nil {
		return OrganizationConnection{}, &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: fmt.Sprintf("connection %q is already enabled for organization %q", connection, org)}
	} else if e := (*Error)(nil); !errors.As(err, &e) || e.Code != "inexistent_connection" {
		return OrganizationConnection{}, err
	}
	if _, err := s.SetOrganizationConnection(ctx, org, connection, assignMembership, true); err != nil {
		return OrganizationConnection{}, err
	}
	return s.GetOrganizationConnection(ctx, org, connection)
}

// UpdateOrganizationConnection changes whether logins through an enabled
// connection make the user a member.
func (s *Service) UpdateOrganizationConnection(ctx context.Context, org, connection string, assignMembership bool) (OrganizationConnection, error) {
	if _, err := s.GetOrganizationConnection(ctx, org, connection); err != nil {
		return OrganizationConnection{}, err
	}
	if _, err := s.SetOrganizationConnection(ctx, org, connection, assignMembership, true); err != nil {
		return OrganizationConnection{}, err
	}
	return s.GetOrganizationConnection(ctx, org, connection)
}

// DisableOrganizationConnection disables an enabled connection for the
// organization.
func (s *Service) DisableOrganizationConnection(ctx context.Context, org, connection string) error {
	if _, err := s.GetOrganizationConnection(ctx, org, connection); err != nil {
		return err
	}
	_, err := s.SetOrganizationConnection(ctx, org, connection, false, false)
	return err
}

// checkInviter checks an invitation's inviter name.
func checkInviter(name string) error {
	if utf8.RuneCountInString(name) > maxInviterLen {
		return invalid("inviter", "the inviter's name must be at most %d characters", maxInviterLen)
	}
	return nil
}
