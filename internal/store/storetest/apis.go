package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testAPIs(t *testing.T, s store.Store) {
	ctx := t.Context()
	a1 := newAPI("https://api.example")
	a2 := newAPI("urn:gatehouse:billing")
	a2.Scopes, a2.TokenLifetime, a2.SigningAlgorithm = nil, 0, "RS256"
	a2.AllowOfflineAccess, a2.SkipConsentFirstParty = false, false

	_, err := s.GetAPI(ctx, a1.Identifier)
	wantErr(t, err, store.ErrNotFound, "get api before create")
	list, err := s.ListAPIs(ctx)
	must(t, err, "list apis of empty store")
	if len(list) != 0 {
		t.Fatalf("list apis of empty store: got %d apis", len(list))
	}

	must(t, s.CreateAPI(ctx, a1), "create api 1")
	must(t, s.CreateAPI(ctx, a2), "create api 2")
	got, err := s.GetAPI(ctx, a1.Identifier)
	must(t, err, "get api 1")
	wantEqual(t, got, a1, "get api 1") // scopes in their order
	got, err = s.GetAPI(ctx, a2.Identifier)
	must(t, err, "get api 2")
	wantEqual(t, got, a2, "get api 2")

	dup := newAPI(a1.Identifier)
	dup.Name, dup.Scopes = "Impostor", nil
	wantErr(t, s.CreateAPI(ctx, dup), store.ErrConflict, "create api with taken identifier")
	got, err = s.GetAPI(ctx, a1.Identifier)
	must(t, err, "get api 1 after conflict")
	wantEqual(t, got, a1, "api 1 after conflicting create")

	list, err = s.ListAPIs(ctx)
	must(t, err, "list apis")
	slices.SortFunc(list, func(a, b store.API) int { return cmp.Compare(a.Identifier, b.Identifier) })
	wantEqual(t, list, []store.API{a1, a2}, "list apis")

	tests := []struct {
		name string
		upd  store.API
	}{
		{"every field", store.API{
			Identifier: a1.Identifier,
			Name:       "Messages",
			Scopes: []store.APIScope{
				{Name: "admin", Description: "Everything"},
				{Name: "read:messages"},
			},
			TokenLifetime:         15 * time.Minute,
			SigningAlgorithm:      "EdDSA",
			AllowOfflineAccess:    false,
			SkipConsentFirstParty: false,
			CreatedAt:             t0.Add(time.Hour), // must be ignored
			UpdatedAt:             t0.Add(time.Hour).In(elsewhere),
		}},
		{"no scopes", func() store.API {
			a := newAPI(a1.Identifier)
			a.Scopes = []store.APIScope{}
			a.UpdatedAt = t0.Add(2 * time.Hour).In(elsewhere)
			return a
		}()},
	}
	for _, tc := range tests {
		t.Run("UpdateAPI/"+tc.name, func(t *testing.T) {
			ctx := t.Context()
			must(t, s.UpdateAPI(ctx, tc.upd), "update api 1")
			want := tc.upd
			want.CreatedAt = a1.CreatedAt
			got, err := s.GetAPI(ctx, a1.Identifier)
			must(t, err, "get updated api 1")
			wantEqual(t, got, want, "updated api 1")
			got, err = s.GetAPI(ctx, a2.Identifier)
			must(t, err, "get api 2")
			wantEqual(t, got, a2, "api 2 after update of api 1")
		})
	}
	t.Run("UpdateAPI/unknown api", func(t *testing.T) {
		wantErr(t, s.UpdateAPI(t.Context(), newAPI("https://nowhere.example")), store.ErrNotFound, "update unknown api")
		_, err := s.GetAPI(t.Context(), "https://nowhere.example")
		wantErr(t, err, store.ErrNotFound, "update must not create")
	})

	must(t, s.DeleteAPI(ctx, a1.Identifier), "delete api 1")
	_, err = s.GetAPI(ctx, a1.Identifier)
	wantErr(t, err, store.ErrNotFound, "get deleted api")
	wantErr(t, s.DeleteAPI(ctx, a1.Identifier), store.ErrNotFound, "delete api twice")
	wantErr(t, s.DeleteAPI(ctx, "https://nowhere.example"), store.ErrNotFound, "delete unknown api")
	list, err = s.ListAPIs(ctx)
	must(t, err, "list apis after delete")
	wantEqual(t, list, []store.API{a2}, "list apis after delete")

	// A deleted identifier is free again.
	must(t, s.CreateAPI(ctx, a1), "recreate api 1")
	got, err = s.GetAPI(ctx, a1.Identifier)
	must(t, err, "get recreated api 1")
	wantEqual(t, got, a1, "recreated api 1")
}
