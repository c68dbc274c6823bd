package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// wantSigningKeys fails unless the store holds exactly the keys want.
func wantSigningKeys(t *testing.T, s store.Store, op string, want ...store.SigningKey) {
	t.Helper()
	got, err := s.ListSigningKeys(t.Context())
	must(t, err, "list signing keys")
	slices.SortFunc(got, func(a, b store.SigningKey) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(want, func(a, b store.SigningKey) int { return cmp.Compare(a.ID, b.ID) })
	wantEqual(t, got, want, op)
}

// storedKey returns the fixture as the store should hold it.
func storedKey(id, alg, state string, retireAt time.Time) store.SigningKey {
	k := newSigningKey(id, alg)
	k.State, k.RetireAt = state, retireAt
	return k
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	const alg = "RS256"
	wantKeys := func(op string, want ...store.SigningKey) {
		t.Helper()
		wantSigningKeys(t, s, op, want...)
	}
	key := func(id, state string, retireAt time.Time) store.SigningKey {
		return storedKey(id, alg, state, retireAt)
	}
	wantKeys("keys of an empty store")

	k1, k2 := newSigningKey("k1", alg), newSigningKey("k2", alg)
	// The store assigns the states; whatever the caller put there is ignored.
	k1.State, k2.State = store.KeyPrevious, store.KeyCurrent

	t.Run("first start without initial key", func(t *testing.T) {
		err := s.RotateSigningKeys(t.Context(), alg, "", nil, k2, time.Time{}, t0)
		if err == nil {
			t.Fatal("RotateSigningKeys without keys and without initial: got no error")
		}
		wantKeys("keys after refused first start")
	})
	t.Run("first start expecting a current key", func(t *testing.T) {
		wantErr(t, s.RotateSigningKeys(t.Context(), alg, "k0", &k1, k2, time.Time{}, t0), store.ErrConflict, "first start expecting k0")
		wantKeys("keys after refused first start")
	})

	must(t, s.RotateSigningKeys(ctx, alg, "", &k1, k2, time.Time{}, t0), "first start")
	wantKeys("keys after first start",
		key("k1", store.KeyCurrent, time.Time{}),
		key("k2", store.KeyNext, time.Time{}))

	k3 := newSigningKey("k3", alg)
	for _, tc := range []struct {
		name   string
		expect string
	}{
		{"second first start", ""},
		{"stale current", "k0"},
		{"next as current", "k2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, s.RotateSigningKeys(t.Context(), alg, tc.expect, &k1, k3, t0.Add(time.Hour), t0), store.ErrConflict, "rotate expecting "+tc.expect)
			wantKeys("keys after refused rotation",
				key("k1", store.KeyCurrent, time.Time{}),
				key("k2", store.KeyNext, time.Time{}))
		})
	}

	retire1 := t0.Add(2 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, alg, "k1", nil, k3, retire1, t0.Add(time.Hour)), "second rotation")
	wantKeys("keys after second rotation",
		key("k1", store.KeyPrevious, retire1),
		key("k2", store.KeyCurrent, time.Time{}),
		key("k3", store.KeyNext, time.Time{}))

	// Before k1 retires, the rotation keeps it: two previous keys.
	retire2 := t0.Add(4 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, alg, "k2", nil, newSigningKey("k4", alg), retire2, retire1.Add(-time.Second)), "third rotation")
	wantKeys("keys after third rotation",
		key("k1", store.KeyPrevious, retire1),
		key("k2", store.KeyPrevious, retire2),
		key("k3", store.KeyCurrent, time.Time{}),
		key("k4", store.KeyNext, time.Time{}))

	// After k1 retires, the next rotation deletes it.
	retire3 := t0.Add(6 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, alg, "k3", nil, newSigningKey("k5", alg), retire3, retire1.Add(time.Second)), "fourth rotation")
	wantKeys("keys after fourth rotation",
		key("k2", store.KeyPrevious, retire2),
		key("k3", store.KeyPrevious, retire3),
		key("k4", store.KeyCurrent, time.Time{}),
		key("k5", store.KeyNext, time.Time{}))
}

// testSigningKeyRings checks that each algorithm's ring rotates on its own.
func testSigningKeyRings(t *testing.T, s store.Store) {
	ctx := t.Context()
	const rs, es = "RS256", "ES256"
	wantKeys := func(op string, want ...store.SigningKey) {
		t.Helper()
		wantSigningKeys(t, s, op, want...)
	}
	zero := time.Time{}

	rs1, rs2 := newSigningKey("rs-1", rs), newSigningKey("rs-2", rs)
	must(t, s.RotateSigningKeys(ctx, rs, "", &rs1, rs2, zero, t0), "first start of RS256")

	// ES256 has no current key yet, whatever RS256 has.
	es1, es2 := newSigningKey("es-1", es), newSigningKey("es-2", es)
	wantErr(t, s.RotateSigningKeys(ctx, es, rs1.ID, &es1, es2, zero, t0), store.ErrConflict, "first start of ES256 expecting RS256's current key")
	wantKeys("keys after refused first start of ES256",
		storedKey("rs-1", rs, store.KeyCurrent, zero),
		storedKey("rs-2", rs, store.KeyNext, zero))
	must(t, s.RotateSigningKeys(ctx, es, "", &es1, es2, zero, t0), "first start of ES256")
	both := []store.SigningKey{
		storedKey("rs-1", rs, store.KeyCurrent, zero),
		storedKey("rs-2", rs, store.KeyNext, zero),
		storedKey("es-1", es, store.KeyCurrent, zero),
		storedKey("es-2", es, store.KeyNext, zero),
	}
	wantKeys("keys after first start of both rings", both...)

	ps1 := newSigningKey("ps-1", "PS256")
	refused := []struct {
		name     string
		alg      string
		expect   string
		initial  *store.SigningKey
		next     store.SigningKey
		conflict bool // ErrConflict, else any error
	}{
		{"RS256 first start again", rs, "", &rs1, newSigningKey("rs-x", rs), true},
		{"RS256 expecting ES256's current key", rs, "es-1", nil, newSigningKey("rs-x", rs), true},
		{"ES256 expecting RS256's current key", es, "rs-1", nil, newSigningKey("es-x", es), true},
		{"ES256 expecting its next key", es, "es-2", nil, newSigningKey("es-x", es), true},
		// Keys of algorithms without a ring, so that no unique key refuses
		// them by chance.
		{"next key of another algorithm", rs, "rs-1", nil, newSigningKey("ed-x", "EdDSA"), false},
		{"initial key of another algorithm", "EdDSA", "", &ps1, newSigningKey("ed-x", "EdDSA"), false},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RotateSigningKeys(t.Context(), tc.alg, tc.expect, tc.initial, tc.next, t0.Add(time.Hour), t0)
			switch {
			case tc.conflict:
				wantErr(t, err, store.ErrConflict, "refused rotation")
			case err == nil:
				t.Fatal("refused rotation: got no error")
			}
			wantKeys("keys after refused rotation", both...)
		})
	}

	// Rotating RS256 leaves ES256 alone.
	retireRS1 := t0.Add(2 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, rs, "rs-1", nil, newSigningKey("rs-3", rs), retireRS1, t0.Add(time.Hour)), "rotate RS256")
	wantKeys("keys after rotating RS256",
		storedKey("rs-1", rs, store.KeyPrevious, retireRS1),
		storedKey("rs-2", rs, store.KeyCurrent, zero),
		storedKey("rs-3", rs, store.KeyNext, zero),
		storedKey("es-1", es, store.KeyCurrent, zero),
		storedKey("es-2", es, store.KeyNext, zero))

	// A retired key goes with a rotation of its own ring only.
	later := retireRS1.Add(time.Second)
	retireES1 := t0.Add(5 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, es, "es-1", nil, newSigningKey("es-3", es), retireES1, later), "rotate ES256 after rs-1 retired")
	wantKeys("keys after rotating ES256",
		storedKey("rs-1", rs, store.KeyPrevious, retireRS1),
		storedKey("rs-2", rs, store.KeyCurrent, zero),
		storedKey("rs-3", rs, store.KeyNext, zero),
		storedKey("es-1", es, store.KeyPrevious, retireES1),
		storedKey("es-2", es, store.KeyCurrent, zero),
		storedKey("es-3", es, store.KeyNext, zero))

	retireRS2 := t0.Add(6 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, rs, "rs-2", nil, newSigningKey("rs-4", rs), retireRS2, later), "rotate RS256 after rs-1 retired")
	wantKeys("keys after rotating RS256 again",
		storedKey("rs-2", rs, store.KeyPrevious, retireRS2),
		storedKey("rs-3", rs, store.KeyCurrent, zero),
		storedKey("rs-4", rs, store.KeyNext, zero),
		storedKey("es-1", es, store.KeyPrevious, retireES1),
		storedKey("es-2", es, store.KeyCurrent, zero),
		storedKey("es-3", es, store.KeyNext, zero))
}
