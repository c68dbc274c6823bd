package authflow

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/internal/store"
)

// ConsentStore is what ConsentScopes reads.
type ConsentStore interface {
	GetAPI(ctx context.Context, identifier string) (store.API, error)
	EffectivePermissions(ctx context.Context, userID, orgID, audience string) ([]string, error)
}

// ConsentScopes are the scopes of the request that the user is asked to
// consent to, and that a remembered consent must cover: the requested
// ones, narrowed, when the request's API has RBAC on, to those the user's
// permissions grant. The consent step and the consent page both use it, so
// that the page never asks for a scope the token could not carry, and the
// consent it stores is the consent the step looks for.
func ConsentScopes(ctx context.Context, st ConsentStore, req store.AuthRequest, userID string) ([]string, error) {
	if req.Audience == "" {
		return req.Scopes, nil
	}
	api, err := st.GetAPI(ctx, req.Audience)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted since the request was made: the token endpoint refuses it.
		return req.Scopes, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consent scopes: get api: %w", err)
	}
	if !api.RBAC {
		return req.Scopes, nil
	}
	perms, err := st.EffectivePermissions(ctx, userID, req.Organization, api.Identifier)
	if err != nil {
		return nil, fmt.Errorf("consent scopes: %w", err)
	}
	return store.PermittedScopes(api, req.Scopes, perms), nil
}
