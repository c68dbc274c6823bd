package mgmtapi

import (
	"net/http"
	"slices"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func (a *API) resourceServerRoutes() {
	a.add("GET", "/resource-servers", "List resource servers (APIs)", a.listResourceServers, "read:resource_servers").lists("resource_servers", resourceServerJSON{})
	a.add("POST", "/resource-servers", "Create a resource server", a.createResourceServer, "create:resource_servers").accepts(resourceServerCreate{}).returns(201, resourceServerJSON{})
	a.add("GET", "/resource-servers/{id}", "Get a resource server by ID or identifier", a.getResourceServer, "read:resource_servers").returns(200, resourceServerJSON{})
	a.add("PATCH", "/resource-servers/{id}", "Update a resource server", a.patchResourceServer, "update:resource_servers").accepts(resourceServerPatch{}).returns(200, resourceServerJSON{})
	a.add("DELETE", "/resource-servers/{id}", "Delete a resource server", a.deleteResourceServer, "delete:resource_servers").returns(204, nil)
}

// maxTokenLifetime is the longest token_lifetime, in seconds (30 days).
const maxTokenLifetime = 30 * 24 * 3600

// scopeJSON is one scope of a resource server.
type scopeJSON struct {
	Value       string `json:"value"`
	Description string `json:"description"`
}

// resourceServerJSON is an API as the management API shows it.
type resourceServerJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	// IsSystem marks the management API itself.
	IsSystem   bool        `json:"is_system"`
	Scopes     []scopeJSON `json:"scopes"`
	SigningAlg string      `json:"signing_alg"`
	// TokenLifetime is in seconds; absent when the server's default holds.
	TokenLifetime                             *int   `json:"token_lifetime,omitempty"`
	AllowOfflineAccess                        bool   `json:"allow_offline_access"`
	SkipConsentForVerifiableFirstPartyClients bool   `json:"skip_consent_for_verifiable_first_party_clients"`
	EnforcePolicies                           bool   `json:"enforce_policies"`
	TokenDialect                              string `json:"token_dialect"`
}

// resourceServerSettings are the fields create and update share.
type resourceServerSettings struct {
	Name                                      *string      `json:"name"`
	Scopes                                    *[]scopeJSON `json:"scopes"`
	SigningAlg                                *string      `json:"signing_alg"`
	TokenLifetime                             *int         `json:"token_lifetime"`
	AllowOfflineAccess                        *bool        `json:"allow_offline_access"`
	SkipConsentForVerifiableFirstPartyClients *bool        `json:"skip_consent_for_verifiable_first_party_clients"`
	EnforcePolicies                           *bool        `json:"enforce_policies"`
	TokenDialect                              *string      `json:"token_dialect"`
}

type resourceServerCreate struct {
	Identifier string `json:"identifier"`
	resourceServerSettings
}

// resourceServerPatch cannot change the identifier: it is the audience of
// the tokens already issued.
type resourceServerPatch struct {
	resourceServerSettings
}

func (a *API) toResourceServerJSON(api store.API) resourceServerJSON {
	out := resourceServerJSON{
		ID: mgmt.APIID(api.Identifier), Name: api.Name, Identifier: api.Identifier,
		IsSystem: a.svc.IsManagementAPI(api.Identifier), Scopes: make([]scopeJSON, len(api.Scopes)),
		SigningAlg: api.SigningAlgorithm, AllowOfflineAccess: api.AllowOfflineAccess,
		SkipConsentForVerifiableFirstPartyClients: api.SkipConsentFirstParty,
		EnforcePolicies: api.RBAC, TokenDialect: api.Dialect(),
	}
	for i, s := range api.Scopes {
		out.Scopes[i] = scopeJSON{Value: s.Name, Description: s.Description}
	}
	if api.TokenLifetime > 0 {
		out.TokenLifetime = ptr(int(api.TokenLifetime / time.Second))
	}
	return out
}

// settings turns the body into the service's settings.
func (in resourceServerSettings) settings() (mgmt.APISettings, error) {
	s := mgmt.APISettings{
		Name: in.Name, SigningAlgorithm: in.SigningAlg, AllowOfflineAccess: in.AllowOfflineAccess,
		SkipConsentFirstParty: in.SkipConsentForVerifiableFirstPartyClients, RBAC: in.EnforcePolicies,
		TokenDialect: in.TokenDialect,
	}
	if in.Scopes != nil {
		scopes := make([]store.APIScope, len(*in.Scopes))
		for i, sc := range *in.Scopes {
			scopes[i] = store.APIScope{Name: sc.Value, Description: sc.Description}
		}
		s.Scopes = &scopes
	}
	if in.TokenLifetime != nil {
		if *in.TokenLifetime < 0 || *in.TokenLifetime > maxTokenLifetime {
			return s, badRequest("Payload validation error: 'token_lifetime' must be from 0 to %d seconds", maxTokenLifetime)
		}
		d := time.Duration(*in.TokenLifetime) * time.Second
		s.TokenLifetime = &d
	}
	return s, nil
}

func (a *API) listResourceServers(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "identifiers"); err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	only := r.URL.Query()["identifiers"]
	if len(only) > 10 {
		return badRequest("Query validation error: at most 10 identifiers")
	}
	apis, err := a.svc.ListAPIs(r.Context())
	if err != nil {
		return err
	}
	out := []resourceServerJSON{}
	for _, api := range apis {
		if len(only) == 0 || slices.Contains(only, api.Identifier) {
			out = append(out, a.toResourceServerJSON(api))
		}
	}
	pageSlice(w, p, "resource_servers", out)
	return nil
}

func (a *API) createResourceServer(w http.ResponseWriter, r *http.Request) error {
	var in resourceServerCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Identifier == "" {
		return badRequest("Payload validation error: 'Missing required property: identifier'")
	}
	s, err := in.settings()
	if err != nil {
		return err
	}
	if s.Name == nil {
		s.Name = &in.Identifier // the hosted service names an API after its identifier
	}
	api, err := a.svc.CreateAPI(r.Context(), in.Identifier, s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.toResourceServerJSON(api))
	return nil
}

func (a *API) getResourceServer(w http.ResponseWriter, r *http.Request) error {
	api, err := a.svc.FindAPI(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.toResourceServerJSON(api))
	return nil
}

func (a *API) patchResourceServer(w http.ResponseWriter, r *http.Request) error {
	var in resourceServerPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	s, err := in.settings()
	if err != nil {
		return err
	}
	api, err := a.svc.FindAPI(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if api, err = a.svc.UpdateAPI(r.Context(), api.Identifier, s); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.toResourceServerJSON(api))
	return nil
}

func (a *API) deleteResourceServer(w http.ResponseWriter, r *http.Request) error {
	api, err := a.svc.FindAPI(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.svc.DeleteAPI(r.Context(), api.Identifier); err != nil {
		return err
	}
	noContent(w)
	return nil
}
