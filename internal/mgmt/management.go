package mgmt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse/internal/store"
)

// ManagementAPIName is the name of the management API as an API record.
const ManagementAPIName = "Gatehouse Management API"

// ManagementScopes are the scopes of the management API, named as the
// hosted service's Management API v2 names them, so that the client grants
// and tools written for it carry over.
var ManagementScopes = []store.APIScope{
	{Name: "read:users", Description: "Read users"},
	{Name: "create:users", Description: "Create users"},
	{Name: "update:users", Description: "Update users"},
	{Name: "delete:users", Description: "Delete users"},
	{Name: "read:users_app_metadata", Description: "Read users' app_metadata"},
	{Name: "update:users_app_metadata", Description: "Update users' app_metadata"},
	{Name: "create:user_tickets", Description: "Create password-change and email-verification tickets"},
	{Name: "read:authentication_methods", Description: "Read users' authentication methods"},
	{Name: "delete:authentication_methods", Description: "Delete users' authentication methods"},
	{Name: "read:sessions", Description: "Read users' sessions"},
	{Name: "delete:sessions", Description: "Delete users' sessions"},
	{Name: "read:clients", Description: "Read applications"},
	{Name: "create:clients", Description: "Create applications"},
	{Name: "update:clients", Description: "Update applications"},
	{Name: "delete:clients", Description: "Delete applications"},
	{Name: "read:client_keys", Description: "Read and rotate application secrets"},
	{Name: "update:client_keys", Description: "Rotate application secrets"},
	{Name: "read:client_grants", Description: "Read client grants"},
	{Name: "create:client_grants", Description: "Create client grants"},
	{Name: "update:client_grants", Description: "Update client grants"},
	{Name: "delete:client_grants", Description: "Delete client grants"},
	{Name: "read:resource_servers", Description: "Read APIs"},
	{Name: "create:resource_servers", Description: "Create APIs"},
	{Name: "update:resource_servers", Description: "Update APIs"},
	{Name: "delete:resource_servers", Description: "Delete APIs"},
	{Name: "read:roles", Description: "Read roles"},
	{Name: "create:roles", Description: "Create roles"},
	{Name: "update:roles", Description: "Update roles"},
	{Name: "delete:roles", Description: "Delete roles"},
	{Name: "read:role_members", Description: "Read the users of roles"},
	{Name: "create:role_members", Description: "Assign roles to users"},
	{Name: "delete:role_members", Description: "Remove roles from users"},
	{Name: "read:connections", Description: "Read connections"},
	{Name: "create:connections", Description: "Create connections"},
	{Name: "update:connections", Description: "Update connections"},
	{Name: "delete:connections", Description: "Delete connections"},
	{Name: "read:organizations", Description: "Read organizations"},
	{Name: "create:organizations", Description: "Create organizations"},
	{Name: "update:organizations", Description: "Update organizations"},
	{Name: "delete:organizations", Description: "Delete organizations"},
	{Name: "read:organization_members", Description: "Read organization members"},
	{Name: "create:organization_members", Description: "Add organization members"},
	{Name: "delete:organization_members", Description: "Remove organization members"},
	{Name: "read:organization_member_roles", Description: "Read organization members' roles"},
	{Name: "create:organization_member_roles", Description: "Assign organization members' roles"},
	{Name: "delete:organization_member_roles", Description: "Remove organization members' roles"},
	{Name: "read:organization_invitations", Description: "Read organization invitations"},
	{Name: "create:organization_invitations", Description: "Create organization invitations"},
	{Name: "delete:organization_invitations", Description: "Delete organization invitations"},
	{Name: "read:organization_connections", Description: "Read organization connections"},
	{Name: "create:organization_connections", Description: "Enable organization connections"},
	{Name: "update:organization_connections", Description: "Update organization connections"},
	{Name: "delete:organization_connections", Description: "Disable organization connections"},
	{Name: "read:signing_keys", Description: "Read signing keys"},
	{Name: "create:signing_keys", Description: "Rotate signing keys"},
	{Name: "update:signing_keys", Description: "Revoke signing keys"},
	{Name: "read:logs", Description: "Read the audit log"},
	{Name: "read:logs_users", Description: "Read users' audit log"},
}

// ManagementScopeNames returns the names of ManagementScopes.
func ManagementScopeNames() []string {
	names := make([]string, len(ManagementScopes))
	for i, sc := range ManagementScopes {
		names[i] = sc.Name
	}
	return names
}

// IsManagementAPI reports whether identifier is the management API of a
// server (any issuer): it cannot be deleted or lose its scopes.
func (s *Service) IsManagementAPI(identifier string) bool {
	return s.issuer != "" && identifier == store.ManagementAudience(s.issuer)
}

// EnsureManagementAPI registers the management API of the server, or adds
// the scopes it lacks (after an upgrade that brought new ones). Every
// server runs it at start; concurrent starts of replicas agree.
func (s *Service) EnsureManagementAPI(ctx context.Context) error {
	if s.issuer == "" {
		return errors.New("ensure management API: the service has no issuer")
	}
	id := store.ManagementAudience(s.issuer)
	a, err := s.st.GetAPI(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		now := s.now()
		a = store.API{Identifier: id, Name: ManagementAPIName, Scopes: slices.Clone(ManagementScopes),
			SigningAlgorithm: "RS256", CreatedAt: now, UpdatedAt: now}
		err = s.st.CreateAPI(ctx, a)
		if errors.Is(err, store.ErrConflict) { // another replica was first
			return nil
		}
		if err != nil {
			return fmt.Errorf("create the management API: %w", err)
		}
		return s.ensureRing(ctx, a.SigningAlgorithm)
	}
	if err != nil {
		return fmt.Errorf("get the management API: %w", err)
	}
	missing := false
	for _, sc := range ManagementScopes {
		if !slices.ContainsFunc(a.Scopes, func(h store.APIScope) bool { return h.Name == sc.Name }) {
			a.Scopes = append(a.Scopes, sc)
			missing = true
		}
	}
	if !missing {
		return nil
	}
	a.UpdatedAt = s.now()
	if err := s.st.UpdateAPI(ctx, a); err != nil {
		return fmt.Errorf("add scopes to the management API: %w", err)
	}
	return nil
}

// checkManagementAPIChange refuses a change that would break the
// management API: deleting it, or removing a scope its routes need.
func (s *Service) checkManagementAPIChange(identifier string, scopes *[]store.APIScope, deleting bool) error {
	if !s.IsManagementAPI(identifier) {
		return nil
	}
	if deleting {
		return refused("identifier", "the management API cannot be deleted")
	}
	if scopes != nil {
		for _, sc := range ManagementScopes {
			if !slices.ContainsFunc(*scopes, func(h store.APIScope) bool { return strings.EqualFold(h.Name, sc.Name) }) {
				return refused("scopes", "the management API needs its scope %s", sc.Name)
			}
		}
	}
	return nil
}
