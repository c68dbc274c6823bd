package mgmtapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// A connection's id is its name. Gatehouse keys connections by name
// everywhere (users' identities, organizations, the connection parameter
// of /authorize), and a name cannot change, here as in the hosted
// service, so the name is as stable as a generated "con_…" id would be,
// without a second key to keep in step. Clients treat the id as opaque:
// the SDKs put it in the path, escaped, and read it back from the
// answers.

func (a *API) connectionRoutes() {
	a.add("GET", "/connections", "List connections", a.listConnections, "read:connections").lists("connections", connectionJSON{}).checkpoints()
	a.add("POST", "/connections", "Create a connection", a.createConnection, "create:connections").accepts(connectionCreate{}).returns(201, connectionJSON{})
	a.add("GET", "/connections/{id}", "Get a connection", a.getConnection, "read:connections").returns(200, connectionJSON{})
	a.add("PATCH", "/connections/{id}", "Update a connection", a.patchConnection, "update:connections").accepts(connectionPatch{}).returns(200, connectionJSON{})
	a.add("DELETE", "/connections/{id}", "Delete a connection", a.deleteConnection, "delete:connections").returns(204, nil)
	a.add("GET", "/connections/{id}/clients", "List the applications a connection is enabled for", a.listConnectionClients, "read:connections").returns(200, connectionClients{})
	a.add("PATCH", "/connections/{id}/clients", "Enable or disable a connection for applications", a.patchConnectionClients, "update:connections").accepts([]connectionClientChange{}).returns(204, nil)
}

// strategyAuth0 is the hosted service's name of the database strategy.
const strategyAuth0 = "auth0"

// apiStrategy names a strategy as the API does.
func apiStrategy(s string) string {
	if s == store.StrategyDatabase {
		return strategyAuth0
	}
	return s
}

// storeStrategy reads the API's name of a strategy.
func storeStrategy(s string) string {
	if s == strategyAuth0 {
		return store.StrategyDatabase
	}
	return s
}

// connectionOptions are a connection's settings at its provider as the
// API shows them. The client secret is never shown: it is stored sealed.
// discovery_url is the issuer's discovery document (oidc);
// authorization_endpoint, token_endpoint and userinfo_endpoint are those
// of an oauth2 provider; base_url and api_url are GitHub Enterprise
// Server's; claim_mapping (oidc, oauth2) names the upstream claim of each
// user field.
type connectionOptions struct {
	ClientID              string            `json:"client_id,omitempty"`
	Scope                 string            `json:"scope,omitempty"`
	Issuer                string            `json:"issuer,omitempty"`
	DiscoveryURL          string            `json:"discovery_url,omitempty"`
	AuthorizationEndpoint string            `json:"authorization_endpoint,omitempty"`
	TokenEndpoint         string            `json:"token_endpoint,omitempty"`
	UserinfoEndpoint      string            `json:"userinfo_endpoint,omitempty"`
	BaseURL               string            `json:"base_url,omitempty"`
	APIURL                string            `json:"api_url,omitempty"`
	ClaimMapping          map[string]string `json:"claim_mapping,omitempty"`
}

// connectionJSON is a connection as the API shows it.
type connectionJSON struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Strategy           string            `json:"strategy"`
	Options            connectionOptions `json:"options"`
	EnabledClients     []string          `json:"enabled_clients"`
	Realms             []string          `json:"realms"`
	IsDomainConnection bool              `json:"is_domain_connection"`
}

// discoverySuffix ends an OpenID provider's discovery URL.
const discoverySuffix = "/.well-known/openid-configuration"

func toConnectionJSON(c store.Connection) connectionJSON {
	o := connectionOptions{ClientID: c.ClientID, Scope: strings.Join(c.Scopes, " "), Issuer: c.Issuer,
		AuthorizationEndpoint: c.AuthorizeURL, TokenEndpoint: c.TokenURL, UserinfoEndpoint: c.UserinfoURL,
		BaseURL: c.BaseURL, APIURL: c.APIURL, ClaimMapping: c.ClaimMapping}
	if c.Issuer != "" {
		o.DiscoveryURL = strings.TrimSuffix(c.Issuer, "/") + discoverySuffix
	}
	return connectionJSON{ID: c.Name, Name: c.Name, Strategy: apiStrategy(c.Strategy), Options: o,
		EnabledClients: nonNil(c.EnabledClients), Realms: []string{c.Name}}
}

// scopeInput is the scope option: a space-separated string, as the
// hosted service's OpenID connections take it, or a list.
type scopeInput []string

func (s *scopeInput) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = strings.Fields(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		found := "object"
		switch t := bytes.TrimSpace(b); {
		case len(t) > 0 && t[0] == '[':
			found = "array of other than strings"
		case len(t) > 0 && (t[0] == 't' || t[0] == 'f'):
			found = "boolean"
		case len(t) > 0 && (t[0] == '-' || t[0] >= '0' && t[0] <= '9'):
			found = "number"
		}
		return &json.UnmarshalTypeError{Value: found, Type: reflect.TypeFor[string](), Field: "options.scope"}
	}
	*s = list
	return nil
}

// connectionOptionsInput are the options a request sets; each one left
// out keeps its value. authorizationURL and tokenURL are the hosted
// service's names for the oauth2 endpoints, taken as well.
type connectionOptionsInput struct {
	ClientID              *string            `json:"client_id"`
	ClientSecret          *string            `json:"client_secret"`
	Scope                 *scopeInput        `json:"scope"`
	Issuer                *string            `json:"issuer"`
	DiscoveryURL          *string            `json:"discovery_url"`
	AuthorizationEndpoint *string            `json:"authorization_endpoint"`
	AuthorizationURL      *string            `json:"authorizationURL"`
	TokenEndpoint         *string            `json:"token_endpoint"`
	TokenURL              *string            `json:"tokenURL"`
	UserinfoEndpoint      *string            `json:"userinfo_endpoint"`
	BaseURL               *string            `json:"base_url"`
	APIURL                *string            `json:"api_url"`
	ClaimMapping          *map[string]string `json:"claim_mapping"`
}

// settings turns the options into the service's settings.
func (in *connectionOptionsInput) settings(s *mgmt.ConnectionSettings) error {
	if in == nil {
		return nil
	}
	either := func(a, b *string, na, nb string) (*string, error) {
		if a != nil && b != nil && *a != *b {
			return nil, badRequest("options: %s and %s differ; give one", na, nb)
		}
		if a != nil {
			return a, nil
		}
		return b, nil
	}
	var err error
	if s.AuthorizeURL, err = either(in.AuthorizationEndpoint, in.AuthorizationURL, "authorization_endpoint", "authorizationURL"); err != nil {
		return err
	}
	if s.TokenURL, err = either(in.TokenEndpoint, in.TokenURL, "token_endpoint", "tokenURL"); err != nil {
		return err
	}
	issuer := in.Issuer
	if d := in.DiscoveryURL; d != nil {
		iss, ok := strings.CutSuffix(*d, discoverySuffix)
		if !ok || iss == "" {
			return badRequest("options.discovery_url must end in %s", discoverySuffix)
		}
		if issuer != nil && strings.TrimSuffix(*issuer, "/") != iss {
			return badRequest("options: issuer and discovery_url name different providers")
		}
		issuer = &iss
	}
	s.Issuer = issuer
	s.ClientID, s.ClientSecret, s.UserinfoURL = in.ClientID, in.ClientSecret, in.UserinfoEndpoint
	s.BaseURL, s.APIURL, s.ClaimMapping = in.BaseURL, in.APIURL, in.ClaimMapping
	if in.Scope != nil {
		scopes := []string(*in.Scope)
		s.Scopes = &scopes
	}
	return nil
}

type connectionCreate struct {
	Name           string                  `json:"name"`
	Strategy       string                  `json:"strategy"`
	Options        *connectionOptionsInput `json:"options"`
	EnabledClients *[]string               `json:"enabled_clients"`
}

type connectionPatch struct {
	Options        *connectionOptionsInput `json:"options"`
	EnabledClients *[]string               `json:"enabled_clients"`
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "from", "take", "strategy", "name"); err != nil {
		return err
	}
	q := r.URL.Query()
	strategies := q["strategy"]
	for i, s := range strategies {
		strategies[i] = storeStrategy(s)
	}
	cs, err := a.svc.ListConnections(r.Context())
	if err != nil {
		return err
	}
	out := []connectionJSON{}
	for _, c := range cs {
		if len(strategies) > 0 && !slices.Contains(strategies, c.Strategy) || q.Has("name") && c.Name != q.Get("name") {
			continue
		}
		out = append(out, toConnectionJSON(c))
	}
	slices.SortFunc(out, func(x, y connectionJSON) int { return strings.Compare(x.ID, y.ID) })
	return writeList(w, r, "connections", out, func(c connectionJSON) string { return c.ID })
}

func (a *API) createConnection(w http.ResponseWriter, r *http.Request) error {
	var in connectionCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Name == "" || in.Strategy == "" {
		return badRequest("Payload validation error: name and strategy are required")
	}
	strategy := storeStrategy(in.Strategy)
	s := mgmt.ConnectionSettings{Strategy: &strategy, EnabledClients: in.EnabledClients}
	if err := in.Options.settings(&s); err != nil {
		return err
	}
	c, err := a.svc.CreateConnection(r.Context(), in.Name, s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toConnectionJSON(c))
	return nil
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) error {
	c, err := a.svc.GetConnection(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toConnectionJSON(c))
	return nil
}

func (a *API) patchConnection(w http.ResponseWriter, r *http.Request) error {
	var in connectionPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	s := mgmt.ConnectionSettings{EnabledClients: in.EnabledClients}
	if err := in.Options.settings(&s); err != nil {
		return err
	}
	c, err := a.svc.UpdateConnection(r.Context(), r.PathValue("id"), s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toConnectionJSON(c))
	return nil
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteConnection(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// connectionClient is an application a connection is enabled for.
type connectionClient struct {
	ClientID string `json:"client_id"`
}

// connectionClients is a page of the applications a connection is
// enabled for; next is the checkpoint of the following page.
type connectionClients struct {
	Clients []connectionClient `json:"clients"`
	Next    string             `json:"next,omitempty"`
}

func (a *API) listConnectionClients(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "from", "take"); err != nil {
		return err
	}
	ft, err := fromTakeOf(r)
	if err != nil {
		return err
	}
	if !ft.on {
		ft.take = defaultPerPage
	}
	c, err := a.svc.GetConnection(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ids := slices.Clone(c.EnabledClients)
	slices.Sort(ids)
	out := make([]connectionClient, len(ids))
	for i, id := range ids {
		out[i] = connectionClient{ClientID: id}
	}
	writeFromTake(w, ft, "clients", out, func(c connectionClient) string { return c.ClientID })
	return nil
}

// connectionClientChange enables (status true) or disables a connection
// for an application.
type connectionClientChange struct {
	ClientID string `json:"client_id"`
	Status   *bool  `json:"status"`
}

// maxClientChanges bounds the changes of one call.
const maxClientChanges = 50

func (a *API) patchConnectionClients(w http.ResponseWriter, r *http.Request) error {
	var in []connectionClientChange
	if err := decodeArray(w, r, &in); err != nil {
		return err
	}
	if len(in) == 0 || len(in) > maxClientChanges {
		return badRequest("Payload validation error: 1 to %d changes are expected", maxClientChanges)
	}
	changes := make([]mgmt.ConnectionClientChange, len(in))
	for i, ch := range in {
		if ch.ClientID == "" || ch.Status == nil {
			return badRequest("Payload validation error: each change needs client_id and status")
		}
		changes[i] = mgmt.ConnectionClientChange{ClientID: ch.ClientID, Enabled: *ch.Status}
	}
	if err := a.svc.ChangeConnectionClients(r.Context(), r.PathValue("id"), changes); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// decodeArray is decode for a body that is a JSON array.
func decodeArray(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &mgmt.Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: "Payload too large"}
	}
	if err != nil {
		return badRequest("Payload validation error: the body could not be read")
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '[' {
		return badRequest("Payload validation error: a JSON array is required")
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(w, r, v)
}
