package mgmt_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func TestClientGrants(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m2m, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "backend", ClientSettings: mgmt.ClientSettings{Name: ptr("Backend"), Type: ptr(store.ClientM2M)}})
	if err != nil {
		t.Fatal(err)
	}
	web, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ID: "web", ClientSettings: webApp("Web")})
	if err != nil {
		t.Fatal(err)
	}
	api, err := e.svc.CreateAPI(ctx, "https://api.example", mgmt.APISettings{Name: ptr("API"),
		Scopes: &[]store.APIScope{{Name: "read:things"}, {Name: "write:things"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateAPI(ctx, "urn:other", mgmt.APISettings{Name: ptr("Other")}); err != nil {
		t.Fatal(err)
	}

	g, err := e.svc.CreateClientGrant(ctx, mgmt.NewClientGrant{ClientID: m2m.ID, Audience: api.Identifier,
		Scopes: []string{"write:things", "read:things", "write:things"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g.ID, "cgr_") || !slices.Equal(g.Scopes, []string{"write:things", "read:things"}) || !g.CreatedAt.Equal(e.now) {
		t.Errorf("created %+v", g)
	}
	if stored, err := e.svc.GetClientGrant(ctx, g.ID); err != nil || !slices.Equal(stored.Scopes, g.Scopes) {
		t.Errorf("stored %+v, %v", stored, err)
	}
	empty, err := e.svc.CreateClientGrant(ctx, mgmt.NewClientGrant{ClientID: m2m.ID, Audience: "urn:other"})
	if err != nil || len(empty.Scopes) != 0 {
		t.Errorf("a grant without scopes: %+v, %v", empty, err)
	}

	tests := []struct {
		name                string
		in                  mgmt.NewClientGrant
		status              int
		code, field, errMsg string
	}{
		{"second grant for the audience", mgmt.NewClientGrant{ClientID: m2m.ID, Audience: api.Identifier},
			http.StatusConflict, mgmt.CodeConflict, "", "already exists"},
		{"unknown application", mgmt.NewClientGrant{ClientID: "nope", Audience: api.Identifier},
			http.StatusNotFound, "inexistent_client", "", `application "nope" not found`},
		{"web application", mgmt.NewClientGrant{ClientID: web.ID, Audience: api.Identifier},
			http.StatusBadRequest, mgmt.CodeOperationNotSupported, "client_id", "only m2m applications"},
		{"unknown audience", mgmt.NewClientGrant{ClientID: m2m.ID, Audience: "https://nope.example"},
			http.StatusNotFound, "inexistent_resource_server", "", `API "https://nope.example" not found`},
		{"scope of no API", mgmt.NewClientGrant{ClientID: m2m.ID, Audience: "urn:other", Scopes: []string{"read:things"}},
			http.StatusBadRequest, mgmt.CodeInvalidBody, "scope", `scope "read:things" is not a scope of urn:other`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateClientGrant(t.Context(), tt.in)
			wantError(t, err, tt.status, tt.code, tt.field, tt.errMsg)
		})
	}

	list, err := e.svc.ListClientGrants(ctx, store.ClientGrantFilter{ClientID: m2m.ID})
	if err != nil || len(list) != 2 {
		t.Errorf("list %+v, %v", list, err)
	}

	e.now = e.now.Add(time.Second)
	g, err = e.svc.UpdateClientGrant(ctx, g.ID, []string{"read:things"})
	if err != nil || !slices.Equal(g.Scopes, []string{"read:things"}) || !g.UpdatedAt.Equal(e.now) {
		t.Errorf("updated %+v, %v", g, err)
	}
	_, err = e.svc.UpdateClientGrant(ctx, g.ID, []string{"delete:things"})
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "scope", "not a scope")
	_, err = e.svc.UpdateClientGrant(ctx, "cgr_nope", nil)
	wantError(t, err, http.StatusNotFound, "inexistent_client_grant", "", "not found")

	if err := e.svc.DeleteClientGrant(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.DeleteClientGrant(ctx, g.ID), http.StatusNotFound, "inexistent_client_grant", "", "not found")

	// Deleting the application removes its grants.
	if err := e.svc.DeleteClient(ctx, m2m.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := e.svc.ListClientGrants(ctx, store.ClientGrantFilter{}); err != nil || len(list) != 0 {
		t.Errorf("grants after deleting their application: %+v, %v", list, err)
	}
}

func TestClientGrantsGoWithTheirAPI(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m2m, _, err := e.svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{Name: ptr("Backend"), Type: ptr(store.ClientM2M)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateAPI(ctx, "https://api.example", mgmt.APISettings{Name: ptr("API")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateClientGrant(ctx, mgmt.NewClientGrant{ClientID: m2m.ID, Audience: "https://api.example"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteAPI(ctx, "https://api.example"); err != nil {
		t.Fatal(err)
	}
	if list, err := e.svc.ListClientGrants(ctx, store.ClientGrantFilter{ClientID: m2m.ID}); err != nil || len(list) != 0 {
		t.Errorf("grants after deleting their API: %+v, %v", list, err)
	}
}
