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
//
// Rotation has a grace period (Config.RefreshGracePeriod, 30 s by
// default): the previous token presented again within it, while its
// successor is still unused, returns that same successor with a fresh
// access token. A lost response (a dropped connection, a server killed
// after its commit) then costs the client a retry, not its login; and 50
// concurrent refreshes of one token all get the one successor. After the
// grace period, or once the successor has been used (the chain moved on),
// the previous token is a reuse and revokes the family, as RFC 9700
// §4.14.2 asks. A thief who replays a stolen token late is caught as
// before; one who replays it within the grace period, before the holder
// used the successor, gets the holder's successor rather than a token of
// its own; the two then share one chain, and the first time one of them
// uses a spent token more than the grace period after its rotation (as
// refreshes an access-token lifetime apart do) the family is revoked: the
// theft is detected a rotation later, not missed. An application's overlap
// (RefreshPolicy.Overlap) applies where the grace period cannot: one
// sibling token within its window.
//
// The FAPI 2.0 Security Profile discourages rotation for its
// confidential, sender-constrained clients because a lost response locks
// the client out; such clients should use RefreshPolicy.NoRotation. Where
// rotation stays on, the grace period removes that failure mode.
type refreshGrant struct{ p *Provider }

// errSuccessorMismatch means the sealed successor of a retry did not open
// to the token it belongs to: another master key, or a damaged row.
var errSuccessorMismatch = errors.New("sealed value does not match the successor")

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
		grace := max(g.p.cfg.RefreshGracePeriod, 0)
		var sealed []byte
		if grace > 0 {
			sealed = g.p.successors.Seal([]byte(value), []byte(nextID))
		}
		commit = func(ctx context.Context, issued store.Issued) error {
			r, err := st.RotateRefresh(ctx, store.Rotation{OldID: id, Next: next, NextSealed: sealed,
				Now: now, Grace: grace, Overlap: pol.Overlap, Access: issued.Access})
			switch {
			case errors.Is(err, store.ErrReused):
				// Each loser of a race finds the family revoked by the
				// first: one line per family.
				g.p.reuses.report(g.p.cfg.Log, now, old.FamilyID, "rotated refresh token reused; its family is revoked", "client_id", client.ID)
				return newError(ErrInvalidGrant, "the refresh token was already used")
			case errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
				return newError(ErrInvalidGrant, "the refresh token is invalid or expired")
			case err != nil:
				return fmt.Errorf("rotate refresh token: %w", err)
			}
			if r.Successor != nil {
				// A retry within the grace period: the same successor
				// as the rotation whose response the client did not get.
				plain, err := g.p.successors.Open(r.SuccessorSealed, []byte(r.Successor.ID))
				if err != nil || token.Hash(string(plain)) != r.Successor.ID {
					return fmt.Errorf("rotate refresh token: open the successor of a retry: %w", errors.Join(err, errSuccessorMismatch))
				}
				value, nextID = string(plain), r.Successor.ID
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
	// No read-back of the new token: the store serialises a rotation
	// and a revocation of its family, so a reuse that revokes the family
	// after this commit revokes the token returned here as well.
	resp.RefreshToken = value
	return resp, nil
}
