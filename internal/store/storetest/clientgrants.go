package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

func newClientGrant(id, clientID, audience string) store.ClientGrant {
	return store.ClientGrant{
		ID:        id,
		ClientID:  clientID,
		Audience:  audience,
		Scopes:    []string{"write:messages", "read:messages"},
		CreatedAt: t0.Add(-time.Hour).In(elsewhere),
		UpdatedAt: t0.In(elsewhere),
	}
}

// testClientGrants runs the client grant tests on one store; each uses
// its own applications and APIs.
func testClientGrants(t *testing.T, s store.Store) {
	t.Run("ClientAuthMethod", func(t *testing.T) { testClientAuthMethod(t, s) })
	t.Run("CRUD", func(t *testing.T) { testClientGrantCRUD(t, s) })
	t.Run("Cascade", func(t *testing.T) { testClientGrantCascade(t, s) })
}

// testClientAuthMethod checks the client fields of public and
// machine-to-machine applications.
func testClientAuthMethod(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, c := range []store.Client{
		func() store.Client {
			c := newClient("spa")
			c.Type, c.TokenEndpointAuthMethod, c.SecretHash = store.ClientSPA, store.AuthMethodNone, ""
			return c
		}(),
		func() store.Client {
			c := newClient("m2m")
			c.Type, c.TokenEndpointAuthMethod = store.ClientM2M, store.AuthMethodSecretPost
			c.Callbacks, c.GrantTypes = nil, []string{store.GrantClientCredentials}
			return c
		}(),
	} {
		must(t, s.CreateClient(ctx, c), "create "+c.ID)
		got, err := s.GetClient(ctx, c.ID)
		must(t, err, "get "+c.ID)
		wantEqual(t, got, c, "get "+c.ID)
		if got.Public() != (c.ID == "spa") {
			t.Errorf("%s: Public() = %t", c.ID, got.Public())
		}
	}
	upd := newClient("spa")
	upd.Type, upd.TokenEndpointAuthMethod = store.ClientRegularWeb, store.AuthMethodSecretBasic
	must(t, s.UpdateClient(ctx, upd), "update spa to a confidential client")
	got, err := s.GetClient(ctx, "spa")
	must(t, err, "get updated spa")
	wantEqual(t, got, upd, "get updated spa")
}

func testClientGrantCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"app-b", "app-a"} {
		must(t, s.CreateClient(ctx, newClient(id)), "create client "+id)
	}
	for _, id := range []string{"https://api.example", "urn:billing"} {
		must(t, s.CreateAPI(ctx, newAPI(id)), "create api "+id)
	}

	_, err := s.GetClientGrant(ctx, "cgr_1")
	wantErr(t, err, store.ErrNotFound, "get client grant before create")
	list, err := s.ListClientGrants(ctx, store.ClientGrantFilter{})
	must(t, err, "list client grants of empty store")
	wantEqual(t, list, nil, "list client grants of empty store")

	g1 := newClientGrant("cgr_1", "app-b", "urn:billing")
	g2 := newClientGrant("cgr_2", "app-b", "https://api.example")
	g3 := newClientGrant("cgr_3", "app-a", "urn:billing")
	g3.Scopes = nil
	for _, g := range []store.ClientGrant{g1, g2, g3} {
		must(t, s.CreateClientGrant(ctx, g), "create client grant "+g.ID)
	}
	got, err := s.GetClientGrant(ctx, g1.ID)
	must(t, err, "get client grant 1")
	wantEqual(t, got, g1, "get client grant 1") // scopes in their order

	refused := []struct {
		name string
		g    store.ClientGrant
		want error
	}{
		{"taken id", newClientGrant(g1.ID, "app-a", "https://api.example"), store.ErrConflict},
		{"second grant of a client for an audience", newClientGrant("cgr_4", "app-b", "urn:billing"), store.ErrConflict},
		{"unknown client", newClientGrant("cgr_5", "nope", "urn:billing"), store.ErrNotFound},
		{"unknown api", newClientGrant("cgr_6", "app-a", "https://nope.example"), store.ErrNotFound},
	}
	for _, tc := range refused {
		wantErr(t, s.CreateClientGrant(ctx, tc.g), tc.want, "create client grant: "+tc.name)
	}

	lists := []struct {
		name string
		f    store.ClientGrantFilter
		want []store.ClientGrant
	}{
		{"all, by client then audience", store.ClientGrantFilter{}, []store.ClientGrant{g3, g2, g1}},
		{"by client", store.ClientGrantFilter{ClientID: "app-b"}, []store.ClientGrant{g2, g1}},
		{"by audience", store.ClientGrantFilter{Audience: "urn:billing"}, []store.ClientGrant{g3, g1}},
		{"by both", store.ClientGrantFilter{ClientID: "app-a", Audience: "urn:billing"}, []store.ClientGrant{g3}},
		{"none", store.ClientGrantFilter{ClientID: "app-a", Audience: "https://api.example"}, nil},
		{"unknown client", store.ClientGrantFilter{ClientID: "nope"}, nil},
	}
	for _, tc := range lists {
		list, err := s.ListClientGrants(ctx, tc.f)
		must(t, err, "list client grants "+tc.name)
		wantEqual(t, list, tc.want, "list client grants "+tc.name)
	}

	// Update replaces the scopes and UpdatedAt, nothing else.
	upd := g1
	upd.ClientID, upd.Audience = "app-a", "https://api.example" // ignored
	upd.Scopes = []string{"admin"}
	upd.CreatedAt = t0.Add(time.Hour) // ignored
	upd.UpdatedAt = t0.Add(2 * time.Hour).In(elsewhere)
	must(t, s.UpdateClientGrant(ctx, upd), "update client grant 1")
	want := g1
	want.Scopes, want.UpdatedAt = upd.Scopes, upd.UpdatedAt
	got, err = s.GetClientGrant(ctx, g1.ID)
	must(t, err, "get updated client grant 1")
	wantEqual(t, got, want, "get updated client grant 1")
	wantErr(t, s.UpdateClientGrant(ctx, newClientGrant("cgr_nope", "app-a", "urn:billing")), store.ErrNotFound, "update unknown client grant")

	must(t, s.DeleteClientGrant(ctx, g3.ID), "delete client grant 3")
	_, err = s.GetClientGrant(ctx, g3.ID)
	wantErr(t, err, store.ErrNotFound, "get deleted client grant")
	wantErr(t, s.DeleteClientGrant(ctx, g3.ID), store.ErrNotFound, "delete client grant twice")
	// Deleted, the pair is free again.
	must(t, s.CreateClientGrant(ctx, g3), "create client grant 3 again")
}

// testClientGrantCascade checks that a grant goes with its application and
// its API, and does not come back with one registered again.
func testClientGrantCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"cas-a", "cas-b"} {
		must(t, s.CreateClient(ctx, newClient(id)), "create client "+id)
	}
	for _, id := range []string{"https://cascade.example", "urn:cascade"} {
		must(t, s.CreateAPI(ctx, newAPI(id)), "create api "+id)
	}
	grants := []store.ClientGrant{
		newClientGrant("cgr_c1", "cas-a", "https://cascade.example"),
		newClientGrant("cgr_c2", "cas-a", "urn:cascade"),
		newClientGrant("cgr_c3", "cas-b", "https://cascade.example"),
		newClientGrant("cgr_c4", "cas-b", "urn:cascade"),
	}
	for _, g := range grants {
		must(t, s.CreateClientGrant(ctx, g), "create client grant "+g.ID)
	}

	must(t, s.DeleteClient(ctx, "cas-a"), "delete client cas-a")
	remaining := func(op string, want []store.ClientGrant) {
		t.Helper()
		var got []store.ClientGrant
		for _, id := range []string{"cas-a", "cas-b"} {
			list, err := s.ListClientGrants(ctx, store.ClientGrantFilter{ClientID: id})
			must(t, err, op)
			got = append(got, list...)
		}
		wantEqual(t, got, want, op)
	}
	remaining("grants after deleting cas-a", grants[2:])
	must(t, s.DeleteAPI(ctx, "urn:cascade"), "delete api urn:cascade")
	remaining("grants after deleting urn:cascade", grants[2:3])

	must(t, s.CreateClient(ctx, newClient("cas-a")), "create client cas-a again")
	must(t, s.CreateAPI(ctx, newAPI("urn:cascade")), "create api urn:cascade again")
	list, err := s.ListClientGrants(ctx, store.ClientGrantFilter{ClientID: "cas-a"})
	must(t, err, "list grants of cas-a created again")
	wantEqual(t, list, nil, "grants of cas-a created again")
	list, err = s.ListClientGrants(ctx, store.ClientGrantFilter{Audience: "urn:cascade"})
	must(t, err, "list grants of urn:cascade created again")
	wantEqual(t, list, nil, "grants of urn:cascade created again")
}
