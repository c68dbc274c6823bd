package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// issueParams is what every grant hands to issue.
type issueParams struct {
	client   store.Client
	user     *store.User // loaded by issue when nil
	userID   string
	grantID  string // code grant id = refresh family id
	session  string // stored session id, for the sid claim
	scopes   []string
	audience string
	nonce    string
	authTime time.Time
	refresh  bool // start a refresh-token family when offline access is allowed
}

// issue creates the access token, the ID token (for openid) and, when
// allowed, the first refresh token of a family. It is the one step every
// grant shares, so no grant can skip a check.
func (p *Provider) issue(ctx context.Context, ip issueParams) (*tokenResponse, error) {
	st := p.cfg.Store
	if ip.user == nil {
		u, err := st.GetUser(ctx, ip.userID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.Blocked) {
			return nil, newError(ErrInvalidGrant, "the user no longer exists or is blocked")
		}
		if err != nil {
			return nil, fmt.Errorf("issue: get user: %w", err)
		}
		ip.user = &u
	}
	now := p.now()
	scopes := ip.scopes
	offline := slices.Contains(scopes, "offline_access") && ip.client.AllowOfflineAccess
	if !offline {
		scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == "offline_access" })
	}

	access := token.NewOpaque()
	if err := st.CreateAccessToken(ctx, store.AccessToken{
		ID:        token.Hash(access),
		GrantID:   ip.grantID,
		ClientID:  ip.client.ID,
		UserID:    ip.user.ID,
		Scopes:    scopes,
		Audience:  ip.audience,
		CreatedAt: now,
		ExpiresAt: now.Add(p.cfg.AccessTokenTTL),
	}); err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
	}
	resp := &tokenResponse{
		AccessToken: access,
		TokenType:   "Bearer",
		ExpiresIn:   int64(p.cfg.AccessTokenTTL / time.Second),
		Scope:       strings.Join(scopes, " "),
	}

	if slices.Contains(scopes, "openid") {
		idToken, err := p.idToken(ctx, ip, scopes, access, now)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idToken
	}

	if ip.refresh && offline {
		value := token.NewOpaque()
		if err := st.CreateRefreshToken(ctx, store.RefreshToken{
			ID:        token.Hash(value),
			FamilyID:  ip.grantID,
			ClientID:  ip.client.ID,
			UserID:    ip.user.ID,
			SessionID: ip.session,
			Scopes:    scopes,
			Audience:  ip.audience,
			AuthTime:  ip.authTime,
			CreatedAt: now,
			ExpiresAt: now.Add(p.cfg.RefreshTokenTTL),
		}); err != nil {
			return nil, fmt.Errorf("issue refresh token: %w", err)
		}
		resp.RefreshToken = value
	}
	return resp, nil
}

// idToken signs the ID token (OIDC Core §2, §3.1.3.6).
func (p *Provider) idToken(ctx context.Context, ip issueParams, scopes []string, accessToken string, now time.Time) (string, error) {
	alg, err := p.cfg.Keys.SigningAlgorithm(ctx)
	if err != nil {
		return "", fmt.Errorf("id token: %w", err)
	}
	claims := userClaims(*ip.user, scopes)
	claims["iss"] = p.cfg.Issuer
	claims["aud"] = ip.client.ID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(p.cfg.IDTokenTTL).Unix()
	claims["at_hash"] = token.AtHash(accessToken, alg)
	if !ip.authTime.IsZero() {
		claims["auth_time"] = ip.authTime.Unix()
	}
	if ip.nonce != "" {
		claims["nonce"] = ip.nonce
	}
	if ip.session != "" {
		claims["sid"] = sid(ip.session)
	}
	s, err := p.cfg.Keys.Sign(ctx, claims, "JWT")
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	return s, nil
}

// userClaims are the user's claims released for scopes (OIDC Core §5.4),
// shared by the ID token and /userinfo.
func userClaims(u store.User, scopes []string) map[string]any {
	c := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, "profile") {
		put := func(k, v string) {
			if v != "" {
				c[k] = v
			}
		}
		put("name", u.Name)
		put("nickname", u.Nickname)
		put("picture", u.Picture)
		put("given_name", u.GivenName)
		put("family_name", u.FamilyName)
		if !u.UpdatedAt.IsZero() {
			c["updated_at"] = u.UpdatedAt.Unix()
		}
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	return c
}
