package mgmtapi

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/mfa"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func (a *API) clientRoutes() {
	a.add("GET", "/clients", "List applications", a.listClients, "read:clients").lists("clients", clientJSON{})
	a.add("POST", "/clients", "Create an application", a.createClient, "create:clients").accepts(clientJSON{}).returns(201, clientJSON{})
	a.add("GET", "/clients/{id}", "Get an application", a.getClient, "read:clients").returns(200, clientJSON{})
	a.add("PATCH", "/clients/{id}", "Update an application", a.patchClient, "update:clients").accepts(clientJSON{}).returns(200, clientJSON{})
	a.add("DELETE", "/clients/{id}", "Delete an application", a.deleteClient, "delete:clients").returns(204, nil)
	a.add("POST", "/clients/{id}/rotate-secret", "Rotate an application's secret", a.rotateSecret, "update:client_keys").returns(200, clientJSON{})
}

// appTypeM2M is the hosted service's name of machine-to-machine
// applications; "m2m" is accepted too.
const appTypeM2M = "non_interactive"

type jwtConfig struct {
	LifetimeInSeconds *int    `json:"lifetime_in_seconds,omitempty"`
	Alg               *string `json:"alg,omitempty"`
}

type refreshConfig struct {
	RotationType              *string `json:"rotation_type,omitempty"`
	ExpirationType            *string `json:"expiration_type,omitempty"`
	Leeway                    *int    `json:"leeway,omitempty"`
	TokenLifetime             *int    `json:"token_lifetime,omitempty"`
	IdleTokenLifetime         *int    `json:"idle_token_lifetime,omitempty"`
	InfiniteTokenLifetime     *bool   `json:"infinite_token_lifetime,omitempty"`
	InfiniteIdleTokenLifetime *bool   `json:"infinite_idle_token_lifetime,omitempty"`
}

// clientJSON is an application as the API shows it and takes it. On
// output every field is set; the secret only on create and rotation (it
// is stored hashed). mfa_policy, require_verified_email and
// access_token_lifetime_in_seconds are Gatehouse's own, and so are
// require_pkce and jwks (clientTypeJSON).
type clientJSON struct {
	ClientID                    *string        `json:"client_id,omitempty"`
	ClientSecret                *string        `json:"client_secret,omitempty"`
	Name                        *string        `json:"name,omitempty"`
	Description                 *string        `json:"description,omitempty"`
	AppType                     *string        `json:"app_type,omitempty"`
	IsFirstParty                *bool          `json:"is_first_party,omitempty"`
	OIDCConformant              *bool          `json:"oidc_conformant,omitempty"`
	Callbacks                   *[]string      `json:"callbacks,omitempty"`
	AllowedLogoutURLs           *[]string      `json:"allowed_logout_urls,omitempty"`
	GrantTypes                  *[]string      `json:"grant_types,omitempty"`
	TokenEndpointAuthMethod     *string        `json:"token_endpoint_auth_method,omitempty"`
	InitiateLoginURI            *string        `json:"initiate_login_uri,omitempty"`
	OrganizationUsage           *string        `json:"organization_usage,omitempty"`
	OrganizationRequireBehavior *string        `json:"organization_require_behavior,omitempty"`
	JWTConfiguration            *jwtConfig     `json:"jwt_configuration,omitempty"`
	RefreshToken                *refreshConfig `json:"refresh_token,omitempty"`
	MFAPolicy                   *string        `json:"mfa_policy,omitempty"`
	RequireVerifiedEmail        *bool          `json:"require_verified_email,omitempty"`
	AccessTokenLifetime         *int           `json:"access_token_lifetime_in_seconds,omitempty"`
	CreatedAt                   *string        `json:"created_at,omitempty"`
	OIDCLogout                  *oidcLogout    `json:"oidc_logout,omitempty"`
	OIDCBackchannelLogout       *oidcLogout    `json:"oidc_backchannel_logout,omitempty"` // the older name; input only
	clientTypeJSON
}

func ptr[T any](v T) *T { return &v }

func seconds(d time.Duration) *int { return ptr(int(d / time.Second)) }

func toClientJSON(c store.Client, secret string) clientJSON {
	appType := c.Type
	if appType == store.ClientM2M {
		appType = appTypeM2M
	}
	rotation := "rotating"
	if c.Refresh.NoRotation {
		rotation = "non-rotating"
	}
	mfaPolicy := c.MFAPolicy
	if mfaPolicy == "" {
		mfaPolicy = mfa.PolicyInherit
	}
	out := clientJSON{
		ClientID: ptr(c.ID), Name: ptr(c.Name), AppType: ptr(appType), IsFirstParty: ptr(c.FirstParty),
		OIDCConformant: ptr(true), Callbacks: ptr(nonNil(c.Callbacks)), AllowedLogoutURLs: ptr(nonNil(c.LogoutURLs)),
		GrantTypes: ptr(nonNil(c.GrantTypes)), TokenEndpointAuthMethod: ptr(c.TokenEndpointAuthMethod),
		InitiateLoginURI: ptr(c.InitiateLoginURI), OrganizationUsage: ptr(orDefault(c.OrganizationUsage, store.OrgUsageDeny)),
		OrganizationRequireBehavior: ptr(orDefault(c.OrganizationBehavior, store.OrgBehaviorNoPrompt)),
		JWTConfiguration:            &jwtConfig{LifetimeInSeconds: seconds(c.IDTokenTTL), Alg: ptr(orDefault(c.IDTokenSigningAlg, "RS256"))},
		RefreshToken: &refreshConfig{RotationType: ptr(rotation), ExpirationType: ptr("expiring"),
			Leeway: seconds(c.Refresh.Overlap), TokenLifetime: seconds(c.Refresh.Absolute),
			IdleTokenLifetime: seconds(c.Refresh.Idle), InfiniteTokenLifetime: ptr(false), InfiniteIdleTokenLifetime: ptr(false)},
		MFAPolicy: ptr(mfaPolicy), RequireVerifiedEmail: ptr(c.RequireVerifiedEmail),
		AccessTokenLifetime: seconds(c.AccessTokenTTL), CreatedAt: ptr(timestamp(c.CreatedAt)),
		OIDCLogout: toOIDCLogout(c),
	}
	if secret != "" {
		out.ClientSecret = ptr(secret)
	}
	out.clientTypeJSON = toClientTypeJSON(c)
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// settings turns the body into the service's settings; current is the
// application being changed (nil on create), which grant_types checks
// against.
func (in clientJSON) settings(current *store.Client) (mgmt.ClientSettings, error) {
	var s mgmt.ClientSettings
	if in.Description != nil || in.ClientSecret != nil && current != nil || in.CreatedAt != nil {
		switch {
		case in.Description != nil:
			return s, badRequest("Payload validation error: 'Additional properties not allowed: description'")
		case in.CreatedAt != nil:
			return s, badRequest("Payload validation error: created_at is read-only")
		default:
			return s, badRequest("client_secret cannot be set; rotate it with POST /api/v2/clients/{id}/rotate-secret")
		}
	}
	if in.OIDCConformant != nil && !*in.OIDCConformant {
		return s, badRequest("oidc_conformant cannot be false: every Gatehouse application is OIDC-conformant")
	}
	s.Name = in.Name
	if in.AppType != nil {
		t := *in.AppType
		if t == appTypeM2M {
			t = store.ClientM2M
		}
		s.Type = &t
	}
	s.FirstParty = in.IsFirstParty
	s.Callbacks = in.Callbacks
	s.LogoutURLs = in.AllowedLogoutURLs
	s.TokenEndpointAuthMethod = in.TokenEndpointAuthMethod
	s.InitiateLoginURI = in.InitiateLoginURI
	s.OrganizationUsage = in.OrganizationUsage
	s.OrganizationBehavior = in.OrganizationRequireBehavior
	s.MFAPolicy = in.MFAPolicy
	s.RequireVerifiedEmail = in.RequireVerifiedEmail
	bc, err := in.backchannelLogoutURI()
	if err != nil {
		return s, err
	}
	s.BackchannelLogoutURI = bc
	in.clientTypeJSON.settings(&s)
	if in.AccessTokenLifetime != nil {
		s.AccessTokenTTL = ptr(time.Duration(*in.AccessTokenLifetime) * time.Second)
	}
	if in.GrantTypes != nil {
		typ := store.ClientRegularWeb
		if current != nil {
			typ = current.Type
		}
		if s.Type != nil {
			typ = *s.Type
		}
		offline, err := offlineFromGrants(typ, *in.GrantTypes)
		if err != nil {
			return s, err
		}
		s.AllowOfflineAccess = &offline
		s.AllowImplicit = ptr(slices.Contains(*in.GrantTypes, store.GrantImplicit))
	}
	if j := in.JWTConfiguration; j != nil {
		s.IDTokenSigningAlg = j.Alg
		if j.LifetimeInSeconds != nil {
			s.IDTokenTTL = ptr(time.Duration(*j.LifetimeInSeconds) * time.Second)
		}
	}
	if rt := in.RefreshToken; rt != nil {
		if rt.RotationType != nil {
			switch *rt.RotationType {
			case "rotating":
				s.RefreshNoRotation = ptr(false)
			case "non-rotating":
				s.RefreshNoRotation = ptr(true)
			default:
				return s, badRequest("refresh_token.rotation_type must be rotating or non-rotating")
			}
		}
		if rt.ExpirationType != nil && *rt.ExpirationType != "expiring" {
			return s, badRequest("refresh_token.expiration_type must be expiring: refresh tokens always expire here")
		}
		if rt.InfiniteTokenLifetime != nil && *rt.InfiniteTokenLifetime || rt.InfiniteIdleTokenLifetime != nil && *rt.InfiniteIdleTokenLifetime {
			return s, badRequest("refresh tokens always expire here: infinite lifetimes are not supported")
		}
		for _, f := range []struct {
			v   *int
			dst **time.Duration
		}{{rt.Leeway, &s.RefreshOverlap}, {rt.TokenLifetime, &s.RefreshAbsolute}, {rt.IdleTokenLifetime, &s.RefreshIdle}} {
			if f.v != nil {
				if *f.v < 0 {
					return s, badRequest("refresh_token lifetimes and leeway are seconds from 0")
				}
				*f.dst = ptr(time.Duration(*f.v) * time.Second)
			}
		}
	}
	return s, nil
}

// offlineFromGrants checks grant_types against what the application type
// allows and tells whether refresh tokens are on.
func offlineFromGrants(typ string, grants []string) (bool, error) {
	allowed := []string{store.GrantAuthorizationCode, store.GrantRefreshToken}
	if typ == store.ClientRegularWeb || typ == store.ClientSPA {
		allowed = append(allowed, store.GrantImplicit)
	}
	required := store.GrantAuthorizationCode
	if typ == store.ClientM2M {
		allowed, required = []string{store.GrantClientCredentials}, store.GrantClientCredentials
	}
	for _, g := range grants {
		if !slices.Contains(allowed, g) {
			return false, badRequest("grant_types: %q is not available to %s applications (allowed: %v)", g, typ, allowed)
		}
	}
	if !slices.Contains(grants, required) {
		return false, badRequest("grant_types: %s applications always have %s", typ, required)
	}
	return slices.Contains(grants, store.GrantRefreshToken), nil
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "app_type", "is_first_party", "q"); err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	cs, err := a.svc.ListClients(r.Context())
	if err != nil {
		return err
	}
	out := []clientJSON{}
	for _, c := range cs {
		j := toClientJSON(c, "")
		if t := r.URL.Query().Get("app_type"); t != "" && t != *j.AppType {
			continue
		}
		if fp := r.URL.Query().Get("is_first_party"); fp != "" && (fp == "true") != c.FirstParty {
			continue
		}
		// q (a Gatehouse addition, for the admin console's search) keeps
		// the applications whose name or client ID contains it, in any case.
		if q := strings.ToLower(r.URL.Query().Get("q")); q != "" &&
			!strings.Contains(strings.ToLower(c.Name), q) && !strings.Contains(strings.ToLower(c.ID), q) {
			continue
		}
		out = append(out, j)
	}
	pageSlice(w, p, "clients", out)
	return nil
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request) error {
	var in clientJSON
	if err := decode(w, r, &in); err != nil {
		return err
	}
	s, err := in.settings(nil)
	if err != nil {
		return err
	}
	nc := mgmt.NewClient{ClientSettings: s}
	if in.ClientID != nil {
		nc.ID = *in.ClientID
	}
	if in.ClientSecret != nil {
		nc.Secret = *in.ClientSecret
	}
	c, secret, err := a.svc.CreateClient(r.Context(), nc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toClientJSON(c, secret))
	return nil
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClientJSON(c, ""))
	return nil
}

func (a *API) patchClient(w http.ResponseWriter, r *http.Request) error {
	var in clientJSON
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ClientID != nil && *in.ClientID != r.PathValue("id") {
		return badRequest("client_id cannot be changed")
	}
	current, err := a.svc.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s, err := in.settings(&current)
	if err != nil {
		return err
	}
	c, secret, err := a.svc.UpdateClient(r.Context(), current.ID, s)
	if err != nil {
		return err
	}
	// A public application that became confidential got its first
	// secret: it is shown now, once.
	writeJSON(w, http.StatusOK, toClientJSON(c, secret))
	return nil
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteClient(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	c, secret, err := a.svc.RotateClientSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClientJSON(c, secret))
	return nil
}
