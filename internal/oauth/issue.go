package oauth

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	org      string // organization id: org_id and org_name claims
	nonce    string
	code     string // issued with the ID token at /authorize: its c_hash
	authTime time.Time
	amr      []string // authentication methods of the login (RFC 8176)
	refresh  bool     // start a refresh-token family when offline access is allowed
	// commit stores the response's tokens together with what the grant
	// spends (its code or refresh token), in one store transaction. It
	// returns protocol errors as *Error.
	commit func(ctx context.Context, issued store.Issued) error

	orgClaims map[string]any // set by issue
	// permissions is the permissions claim of an API whose dialect has
	// one (set by issue): the user's permissions for the API.
	permissions []string
}

// lifetimes resolves a client's token lifetimes over the server defaults.
func (p *Provider) lifetimes(c store.Client) (idToken, accessToken time.Duration) {
	idToken, accessToken = p.cfg.IDTokenTTL, p.cfg.AccessTokenTTL
	if c.IDTokenTTL > 0 {
		idToken = c.IDTokenTTL
	}
	if c.AccessTokenTTL > 0 {
		accessToken = c.AccessTokenTTL
	}
	return idToken, accessToken
}

// refreshPolicy resolves a client's refresh policy over the server defaults.
func (p *Provider) refreshPolicy(c store.Client) store.RefreshPolicy {
	r := c.Refresh
	if r.Idle <= 0 {
		r.Idle = p.cfg.RefreshTokenTTL
	}
	if r.Absolute <= 0 {
		r.Absolute = p.cfg.RefreshAbsoluteTTL
	}
	return r
}

// issue creates the access token, the ID token (for openid) and, when
// allowed, the first refresh token of a family, storing them through
// ip.commit. It is the one step every grant shares, so no grant can skip a
// check.
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
	var api *store.API
	if ip.audience != "" {
		a, err := st.GetAPI(ctx, ip.audience)
		if errors.Is(err, store.ErrNotFound) {
			return nil, newError(ErrInvalidGrant, "the API %s no longer exists", ip.audience)
		}
		if err != nil {
			return nil, fmt.Errorf("issue: get api: %w", err)
		}
		api = &a
	}
	orgClaims, err := p.orgClaims(ctx, ip.org, ip.user.ID)
	if err != nil {
		return nil, err
	}
	ip.orgClaims = orgClaims
	now := p.now()
	scopes := ip.scopes
	offline := slices.Contains(scopes, "offline_access") && ip.client.AllowOfflineAccess && (api == nil || api.AllowOfflineAccess)
	if !offline {
		scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == "offline_access" })
	}
	idTTL, accessTTL := p.lifetimes(ip.client)
	if api != nil && api.TokenLifetime > 0 {
		accessTTL = api.TokenLifetime
	}
	// The refresh token keeps the scopes asked for; each token it gives
	// is narrowed again by the user's permissions of that moment.
	familyScopes := scopes
	if api != nil && (api.RBAC || api.PermissionsClaim()) {
		perms, err := st.EffectivePermissions(ctx, ip.user.ID, ip.org, api.Identifier)
		if err != nil {
			return nil, fmt.Errorf("issue: permissions: %w", err)
		}
		scopes = store.PermittedScopes(*api, scopes, perms)
		if api.PermissionsClaim() {
			ip.permissions = append([]string{}, perms...)
		}
	}

	// Store first, sign after: nothing is signed for a response that its
	// grant can no longer give (a code or refresh token spent meanwhile).
	var issued store.Issued
	var access, refresh string
	if api == nil {
		access = token.NewOpaque()
		issued.Access = &store.AccessToken{
			ID:        token.Hash(access),
			GrantID:   ip.grantID,
			ClientID:  ip.client.ID,
			UserID:    ip.user.ID,
			Scopes:    scopes,
			CreatedAt: now,
			ExpiresAt: now.Add(accessTTL),
		}
	}
	if ip.refresh && offline {
		pol := p.refreshPolicy(ip.client)
		family := now.Add(pol.Absolute)
		refresh = token.NewOpaque()
		issued.Refresh = &store.RefreshToken{
			ID:              token.Hash(refresh),
			FamilyID:        ip.grantID,
			ClientID:        ip.client.ID,
			UserID:          ip.user.ID,
			SessionID:       ip.session,
			Scopes:          familyScopes,
			Audience:        ip.audience,
			Organization:    ip.org,
			AMR:             ip.amr,
			AuthTime:        ip.authTime,
			CreatedAt:       now,
			ExpiresAt:       minTime(now.Add(pol.Idle), family),
			FamilyExpiresAt: family,
		}
	}
	if err := ip.commit(ctx, issued); err != nil {
		return nil, err
	}

	if api != nil {
		var err error
		if access, err = p.jwtAccessToken(ctx, ip, *api, scopes, now, accessTTL); err != nil {
			return nil, err
		}
	}
	resp := &tokenResponse{
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    "Bearer",
		ExpiresIn:    int64(accessTTL / time.Second),
		Scope:        strings.Join(scopes, " "),
		userID:       ip.userID,
		audience:     ip.audience,
	}
	if slices.Contains(scopes, "openid") {
		idToken, err := p.idToken(ctx, ip, scopes, access, now, idTTL)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idToken
	}
	return resp, nil
}

// orgClaims are the org_id and org_name claims of tokens issued in an
// organization (none outside one), checking the user still belongs to it.
func (p *Provider) orgClaims(ctx context.Context, orgID, userID string) (map[string]any, error) {
	if orgID == "" {
		return nil, nil
	}
	st := p.cfg.Store
	org, err := st.GetOrganization(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(ErrInvalidGrant, "the organization no longer exists")
	}
	if err != nil {
		return nil, fmt.Errorf("issue: get organization: %w", err)
	}
	// The membership may have ended since the login.
	member, err := st.IsMember(ctx, org.ID, userID)
	if err != nil {
		return nil, fmt.Errorf("issue: check membership: %w", err)
	}
	if !member {
		return nil, newError(ErrInvalidGrant, "the user is no longer a member of the organization")
	}
	return map[string]any{"org_id": org.ID, "org_name": org.Name}, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// idToken signs the ID token (OIDC Core §2, §3.1.3.6).
func (p *Provider) idToken(ctx context.Context, ip issueParams, scopes []string, accessToken string, now time.Time, ttl time.Duration) (string, error) {
	alg, err := p.idTokenAlgorithm(ctx, ip.client)
	if err != nil {
		return "", fmt.Errorf("id token: %w", err)
	}
	claims := userClaims(*ip.user, scopes)
	p.customClaims(claims, "id_token", ip)
	maps.Copy(claims, ip.orgClaims)
	claims["iss"] = p.cfg.Issuer
	claims["aud"] = ip.client.ID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(ttl).Unix()
	if accessToken != "" {
		claims["at_hash"] = token.AtHash(accessToken, alg)
	}
	if ip.code != "" {
		// OIDC Core §3.3.2.11: the hybrid flow's ID token binds its code;
		// c_hash is computed as at_hash is.
		claims["c_hash"] = token.AtHash(ip.code, alg)
	}
	if !ip.authTime.IsZero() {
		claims["auth_time"] = ip.authTime.Unix()
	}
	if ip.nonce != "" {
		claims["nonce"] = ip.nonce
	}
	if len(ip.amr) > 0 {
		claims["amr"] = ip.amr // OIDC Core §2, values from RFC 8176
		if slices.Contains(ip.amr, "mfa") {
			claims["acr"] = ACRMultiFactor
		}
	}
	if ip.session != "" {
		claims["sid"] = sid(ip.session)
	}
	s, err := p.signIDToken(ctx, ip.client, alg, claims)
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	return s, nil
}

// jwtAccessToken signs a user's access token for an API, with the API's
// signing algorithm, in the API's token dialect.
func (p *Provider) jwtAccessToken(ctx context.Context, ip issueParams, api store.API, scopes []string, now time.Time, ttl time.Duration) (string, error) {
	claims := map[string]any{}
	p.customClaims(claims, "access_token", ip)
	maps.Copy(claims, ip.orgClaims)
	aud := any(api.Identifier)
	if slices.Contains(scopes, "openid") {
		// RFC 9068 §3 allows several audiences; /userinfo accepts the token.
		aud = []string{api.Identifier, p.endpoint("/userinfo")}
	}
	claims["iss"] = p.cfg.Issuer
	claims["sub"] = ip.user.ID
	claims["aud"] = aud
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(ttl).Unix()
	claims["scope"] = strings.Join(scopes, " ")
	if rfc9068(api) {
		claims["client_id"] = ip.client.ID
		claims["jti"] = token.NewOpaque()[:22]
		if !ip.authTime.IsZero() {
			claims["auth_time"] = ip.authTime.Unix()
		}
	} else {
		claims["azp"] = ip.client.ID
	}
	if api.PermissionsClaim() {
		claims["permissions"] = ip.permissions
	}
	return p.signAccessToken(ctx, api, claims)
}

// rfc9068 reports whether the API's access tokens follow RFC 9068 (typ
// at+jwt, client_id, jti) rather than the hosted service's default profile
// (typ JWT, azp), which APIs written against that service validate.
func rfc9068(api store.API) bool {
	d := api.Dialect()
	return d == store.DialectRFC9068 || d == store.DialectRFC9068Authz
}

// signAccessToken signs the claims of an access token for an API with the
// API's signing algorithm: typ at+jwt for RFC 9068 (§2.1), JWT for the
// hosted service's default profile.
func (p *Provider) signAccessToken(ctx context.Context, api store.API, claims map[string]any) (string, error) {
	alg := api.SigningAlgorithm
	if alg == "" {
		alg = "RS256"
	}
	typ := "JWT"
	if rfc9068(api) {
		typ = "at+jwt"
	}
	s, err := p.cfg.Keys.SignWith(ctx, alg, claims, typ)
	if errors.Is(err, store.ErrNotFound) {
		// The API's algorithm has no key ring yet: create it, then sign.
		if err = p.cfg.Keys.EnsureAlgorithm(ctx, alg); err == nil {
			s, err = p.cfg.Keys.SignWith(ctx, alg, claims, typ)
		}
	}
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// customClaims applies the configured claim rules to claims.
func (p *Provider) customClaims(claims map[string]any, kind string, ip issueParams) {
	for _, r := range p.cfg.Claims {
		if !r.Applies(kind, ip.client.ID, ip.audience) {
			continue
		}
		if v, ok := r.Value(ip.user.AppMetadata, ip.user.UserMetadata); ok {
			claims[r.Claim] = v
		}
	}
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
