package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantKeys := func(op string, want ...store.SigningKey) {
		t.Helper()
		got, err := s.ListSigningKeys(ctx)
		must(t, err, "list signing keys")
		slices.SortFunc(got, func(a, b store.SigningKey) int { return cmp.Compare(a.ID, b.ID) })
		slices.SortFunc(want, func(a, b store.SigningKey) int { return cmp.Compare(a.ID, b.ID) })
		wantEqual(t, got, want, op)
	}
	// key returns the fixture as the store should hold it.
	key := func(id, state string, retireAt time.Time) store.SigningKey {
		k := newSigningKey(id)
		k.State, k.RetireAt = state, retireAt
		return k
	}
	wantKeys("keys of an empty store")

	k1, k2 := newSigningKey("k1"), newSigningKey("k2")
	// The store assigns the states; whatever the caller put there is ignored.
	k1.State, k2.State = store.KeyPrevious, store.KeyCurrent

	t.Run("first start without initial key", func(t *testing.T) {
		err := s.RotateSigningKeys(t.Context(), "", nil, k2, time.Time{}, t0)
		if err == nil {
			t.Fatal("RotateSigningKeys without keys and without initial: got no error")
		}
		wantKeys("keys after refused first start")
	})
	t.Run("first start expecting a current key", func(t *testing.T) {
		wantErr(t, s.RotateSigningKeys(t.Context(), "k0", &k1, k2, time.Time{}, t0), store.ErrConflict, "first start expecting k0")
		wantKeys("keys after refused first start")
	})

	must(t, s.RotateSigningKeys(ctx, "", &k1, k2, time.Time{}, t0), "first start")
	wantKeys("keys after first start",
		key("k1", store.KeyCurrent, time.Time{}),
		key("k2", store.KeyNext, time.Time{}))

	k3 := newSigningKey("k3")
	for _, tc := range []struct {
		name   string
		expect string
	}{
		{"second first start", ""},
		{"stale current", "k0"},
		{"next as current", "k2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.RotateSigningKeys(t.Context(), tc.expect, &k1, k3, t0.Add(time.Hour), t0), store.ErrConflict, "rotate expecting "+tc.expect)
			wantKeys("keys after refused rotation",
				key("k1", store.KeyCurrent, time.Time{}),
				key("k2", store.KeyNext, time.Time{}))
		})
	}

	retire1 := t0.Add(2 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, "k1", nil, k3, retire1, t0.Add(time.Hour)), "second rotation")
	wantKeys("keys after second rotation",
		key("k1", store.KeyPrevious, retire1),
		key("k2", store.KeyCurrent, time.Time{}),
		key("k3", store.KeyNext, time.Time{}))

	// Before k1 retires, the rotation keeps it: two previous keys.
	retire2 := t0.Add(4 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, "k2", nil, newSigningKey("k4"), retire2, retire1.Add(-time.Second)), "third rotation")
	wantKeys("keys after third rotation",
		key("k1", store.KeyPrevious, retire1),
		key("k2", store.KeyPrevious, retire2),
		key("k3", store.KeyCurrent, time.Time{}),
		key("k4", store.KeyNext, time.Time{}))

	// After k1 retires, the next rotation deletes it.
	retire3 := t0.Add(6 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, "k3", nil, newSigningKey("k5"), retire3, retire1.Add(time.Second)), "fourth rotation")
	wantKeys("keys after fourth rotation",
		key("k2", store.KeyPrevious, retire2),
		key("k3", store.KeyPrevious, retire3),
		key("k4", store.KeyCurrent, time.Time{}),
		key("k5", store.KeyNext, time.Time{}))
}
