package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// refreshGrant is the refresh_token grant (RFC 6749 §6) with rotation and
// reuse detection (RFC 9700 §4.14.2).
type refreshGrant struct{ p *Provider }

func (g refreshGrant) exchange(ctx context.Context, req tokenRequest, client store.Client) (*tokenResponse, error) {
	if req.RefreshToken == "" {
		return nil, newError(ErrInvalidRequest, "the refresh_token parameter is missing")
	}
	st := g.p.cfg.Store
	id := token.Hash(req.RefreshToken)
	old, err := st.GetRefreshToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(ErrInvalidGrant, "the refresh token is invalid or expired")
	}
	if err != nil {
		return nil, fmt.Errorf("get refresh token: %w", err)
	}
	now := g.p.now()
	if old.Revoked || !now.Before(old.ExpiresAt) {
		return nil, newError(ErrInvalidGrant, "the refresh token is invalid or expired")
	}
	// RFC 6749 §6: the token is bound to the client it was issued to.
	if old.ClientID != client.ID {
		return nil, newError(ErrInvalidGrant, "the refresh token was issued to another client")
	}
	scopes := old.Scopes
	if req.hasScope {
		asked := req.Scopes
		for _, s := range asked {
			if !slices.Contains(old.Scopes, s) {
				return nil, newError(ErrInvalidScope, "scope %s was not granted originally", s)
			}
		}
		scopes = nil
		for _, s := range old.Scopes { // keep the original order, drop what was not asked
			if slices.Contains(asked, s) {
				scopes = append(scopes, s)
			}
		}
	}
	user, err := st.GetUser(ctx, old.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && user.Blocked) {
		return nil, newError(ErrInvalidGrant, "the user of this refresh token no longer exists or is blocked")
	}
	if err != nil {
		return nil, fmt.Errorf("refresh: get user: %w", err)
	}

	pol := g.p.refreshPolicy(client)
	family := old.FamilyExpiresAt
	if family.IsZero() {
		family = old.CreatedAt.Add(pol.Absolute)
	}
	if !now.Before(family) {
		return nil, newError(ErrInvalidGrant, "the refresh token is invalid or expired")
	}
	var value, nextID string
	var commit func(ctx context.Context, issued store.Issued) error
	if pol.NoRotation {
		// The same token stays valid until its family ends; each use renews
		// its idle lifetime. A token rotated while rotation was on stays
		// single-use.
		if old.UsedAt != nil {
			return nil, newError(ErrInvalidGrant, "the refresh token was already used")
		}
		nextID = id
		commit = func(ctx context.Context, issued store.Issued) error {
			err := st.ExtendRefreshToken(ctx, id, minTime(now.Add(pol.Idle), family), now)
			if errors.Is(err, store.ErrNotFound) {
				return newError(ErrInvalidGrant, "the refresh token is invalid or expired")
			}
			if err != nil {
				return fmt.Errorf("extend refresh token: %w", err)
			}
			if issued.Access != nil {
				if err := st.CreateAccessToken(ctx, *issued.Access); err != nil {
					return fmt.Errorf("issue access token: %w", err)
				}
			}
			return nil
		}
	} else {
		value = token.NewOpaque()
		nextID = token.Hash(value)
		next := store.RefreshToken{
			ID:              nextID,
			FamilyID:        old.FamilyID,
			ClientID:        client.ID,
			UserID:          old.UserID,
			SessionID:       old.SessionID,
			Scopes:          old.Scopes, // a narrower request narrows this response, not the family
			Audience:        old.Audience,
			Organization:    old.Organization,
			AMR:             old.AMR,
			AuthTime:        old.AuthTime,
			CreatedAt:       now,
			ExpiresAt:       minTime(now.Add(pol.Idle), family),
			FamilyExpiresAt: family,
		}
		commit = func(ctx context.Context, issued store.Issued) error {
			_, err := st.RotateRefreshToken(ctx, id, next, now, pol.Overlap, issued.Access)
			switch {
			case errors.Is(err, store.ErrReused):
				g.p.cfg.Log.Warn("rotated refresh token reused; its family is revoked", "client_id", client.ID)
				return newError(ErrInvalidGrant, "the refresh token was already used")
			case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
				return newError(ErrInvalidGrant, "the refresh token is invalid or expired")
			case err != nil:
				return fmt.Errorf("rotate refresh token: %w", err)
			}
			return nil
		}
	}
	resp, err := g.p.issue(ctx, issueParams{
		client:   client,
		user:     &user,
		userID:   user.ID,
		grantID:  old.FamilyID,
		session:  old.SessionID,
		scopes:   scopes,
		audience: old.Audience,
		org:      old.Organization,
		authTime: old.AuthTime,
		amr:      old.AMR,
		commit:   commit,
	})
	if err != nil {
		return nil, err
	}
	// A replay of an older token may have revoked the family while these
	// tokens were issued; revoke again so nothing issued here survives it.
	if cur, err := st.GetRefreshToken(ctx, nextID); err != nil || cur.Revoked {
		if rerr := st.RevokeGrant(ctx, old.FamilyID); rerr != nil {
			return nil, fmt.Errorf("revoke family after a concurrent reuse: %w", rerr)
		}
		return nil, newError(ErrInvalidGrant, "the refresh token was already used")
	}
	resp.RefreshToken = value
	return resp, nil
}
