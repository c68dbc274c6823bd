package mgmtapi

import (
	"net/http"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func (a *API) clientGrantRoutes() {
	a.add("GET", "/client-grants", "List client grants", a.listClientGrants, "read:client_grants").lists("client_grants", clientGrantJSON{}).checkpoints()
	a.add("POST", "/client-grants", "Create a client grant", a.createClientGrant, "create:client_grants").accepts(clientGrantCreate{}).returns(201, clientGrantJSON{})
	a.add("GET", "/client-grants/{id}", "Get a client grant", a.getClientGrant, "read:client_grants").returns(200, clientGrantJSON{})
	a.add("PATCH", "/client-grants/{id}", "Update a client grant", a.patchClientGrant, "update:client_grants").accepts(clientGrantPatch{}).returns(200, clientGrantJSON{})
	a.add("DELETE", "/client-grants/{id}", "Delete a client grant", a.deleteClientGrant, "delete:client_grants").returns(204, nil)
}

type clientGrantJSON struct {
	ID       string   `json:"id"`
	ClientID string   `json:"client_id"`
	Audience string   `json:"audience"`
	Scope    []string `json:"scope"`
}

type clientGrantCreate struct {
	ClientID string   `json:"client_id"`
	Audience string   `json:"audience"`
	Scope    []string `json:"scope"`
}

type clientGrantPatch struct {
	Scope *[]string `json:"scope"`
}

func toClientGrantJSON(g store.ClientGrant) clientGrantJSON {
	return clientGrantJSON{ID: g.ID, ClientID: g.ClientID, Audience: g.Audience, Scope: nonNil(g.Scopes)}
}

func (a *API) listClientGrants(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "page", "per_page", "include_totals", "from", "take", "audience", "client_id"); err != nil {
		return err
	}
	q := r.URL.Query()
	gs, err := a.svc.ListClientGrants(r.Context(), store.ClientGrantFilter{ClientID: q.Get("client_id"), Audience: q.Get("audience")})
	if err != nil {
		return err
	}
	out := make([]clientGrantJSON, len(gs))
	for i, g := range gs {
		out[i] = toClientGrantJSON(g)
	}
	// The store lists grants by application, then audience: one grant
	// each, so the pair is the checkpoint key (NUL sorts before any
	// character of either).
	return writeList(w, r, "client_grants", out, func(g clientGrantJSON) string { return g.ClientID + "\x00" + g.Audience })
}

func (a *API) createClientGrant(w http.ResponseWriter, r *http.Request) error {
	var in clientGrantCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ClientID == "" || in.Audience == "" || in.Scope == nil {
		return badRequest("Payload validation error: client_id, audience and scope are required")
	}
	g, err := a.svc.CreateClientGrant(r.Context(), mgmt.NewClientGrant{ClientID: in.ClientID, Audience: in.Audience, Scopes: in.Scope})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toClientGrantJSON(g))
	return nil
}

func (a *API) getClientGrant(w http.ResponseWriter, r *http.Request) error {
	g, err := a.svc.GetClientGrant(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClientGrantJSON(g))
	return nil
}

func (a *API) patchClientGrant(w http.ResponseWriter, r *http.Request) error {
	var in clientGrantPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Scope == nil {
		return badRequest("Payload validation error: scope is required")
	}
	g, err := a.svc.UpdateClientGrant(r.Context(), r.PathValue("id"), *in.Scope)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toClientGrantJSON(g))
	return nil
}

func (a *API) deleteClientGrant(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteClientGrant(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
