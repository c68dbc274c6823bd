package mgmt

import (
	"context"
	"errors"
	"slices"
	"strings"

	"gatehouse/internal/store"
)

// NewClientGrant lets an application get access tokens for an API without
// a user (client_credentials).
type NewClientGrant struct {
	ClientID string
	Audience string   // the API's identifier
	Scopes   []string // of the API's scopes; none is allowed
}

// CreateClientGrant grants a machine-to-machine application an API's
// scopes. The application must exist and be one that may use
// client_credentials, the audience must be a registered API, and the
// scopes must be that API's.
func (s *Service) CreateClientGrant(ctx context.Context, in NewClientGrant) (store.ClientGrant, error) {
	c, err := s.GetClient(ctx, in.ClientID)
	if err != nil {
		return store.ClientGrant{}, err
	}
	if !slices.Contains(c.GrantTypes, store.GrantClientCredentials) {
		return store.ClientGrant{}, refused("client_id", "application %s is a %s application; only m2m applications use client grants", c.ID, c.Type)
	}
	if s.IsManagementAPI(in.Audience) {
		// The command line may grant it before the first server start,
		// which registers it.
		if err := s.EnsureManagementAPI(ctx); err != nil {
			return store.ClientGrant{}, err
		}
	}
	api, err := s.GetAPI(ctx, in.Audience)
	if err != nil {
		return store.ClientGrant{}, err
	}
	scopes, err := grantScopes(api, in.Scopes)
	if err != nil {
		return store.ClientGrant{}, err
	}
	now := s.now()
	g := store.ClientGrant{ID: randomID("cgr_"), ClientID: c.ID, Audience: api.Identifier, Scopes: scopes, CreatedAt: now, UpdatedAt: now}
	switch err := s.st.CreateClientGrant(ctx, g); {
	case errors.Is(err, store.ErrNotFound):
		// The application or the API was deleted since they were read.
		return store.ClientGrant{}, notFound(err, "application or API", in.ClientID+" "+in.Audience)
	case err != nil:
		return store.ClientGrant{}, conflict(err, "a client grant of application %s for %s", c.ID, api.Identifier)
	}
	return g, nil
}

// grantScopes checks that scopes are the API's, and returns them without
// duplicates.
func grantScopes(api store.API, scopes []string) ([]string, error) {
	out := []string{}
	for _, sc := range scopes {
		if !slices.ContainsFunc(api.Scopes, func(a store.APIScope) bool { return a.Name == sc }) {
			names := make([]string, len(api.Scopes))
			for i, a := range api.Scopes {
				names[i] = a.Name
			}
			return nil, invalid("scope", "scope %q is not a scope of %s (it has: %s)", sc, api.Identifier, strings.Join(names, " "))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// GetClientGrant returns the client grant with the ID.
func (s *Service) GetClientGrant(ctx context.Context, id string) (store.ClientGrant, error) {
	g, err := s.st.GetClientGrant(ctx, id)
	if err != nil {
		return store.ClientGrant{}, notFound(err, "client grant", id)
	}
	return g, nil
}

// ListClientGrants returns the client grants the filter selects.
func (s *Service) ListClientGrants(ctx context.Context, f store.ClientGrantFilter) ([]store.ClientGrant, error) {
	return s.st.ListClientGrants(ctx, f)
}

// UpdateClientGrant replaces the scopes of a client grant.
func (s *Service) UpdateClientGrant(ctx context.Context, id string, scopes []string) (store.ClientGrant, error) {
	g, err := s.GetClientGrant(ctx, id)
	if err != nil {
		return store.ClientGrant{}, err
	}
	api, err := s.GetAPI(ctx, g.Audience)
	if err != nil {
		return store.ClientGrant{}, err
	}
	if g.Scopes, err = grantScopes(api, scopes); err != nil {
		return store.ClientGrant{}, err
	}
	g.UpdatedAt = s.now()
	if err := s.st.UpdateClientGrant(ctx, g); err != nil {
		return store.ClientGrant{}, notFound(err, "client grant", id)
	}
	return g, nil
}

// DeleteClientGrant removes a client grant: tokens issued with it stay
// valid until they expire, but no new one is issued.
func (s *Service) DeleteClientGrant(ctx context.Context, id string) error {
	if err := s.st.DeleteClientGrant(ctx, id); err != nil {
		return notFound(err, "client grant", id)
	}
	return nil
}
