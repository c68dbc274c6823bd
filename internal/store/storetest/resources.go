package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

// testRevokeSigningKey checks that only a previous key can be revoked,
// once, and that revoking retires it at once without touching other keys.
func testRevokeSigningKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	const rs, es = "RS256", "ES256"
	zero := time.Time{}
	rs1, rs2 := newSigningKey("rs-1", rs), newSigningKey("rs-2", rs)
	must(t, s.RotateSigningKeys(ctx, rs, "", &rs1, rs2, zero, t0), "first start of RS256")
	es1, es2 := newSigningKey("es-1", es), newSigningKey("es-2", es)
	must(t, s.RotateSigningKeys(ctx, es, "", &es1, es2, zero, t0), "first start of ES256")

	for _, kid := range []string{"rs-1", "rs-2", "nope", ""} {
		wantErr(t, s.RevokeSigningKey(ctx, kid, t0), store.ErrNotFound, "revoke "+kid+" (not a previous key)")
	}
	retire := t0.Add(24 * time.Hour).In(elsewhere)
	must(t, s.RotateSigningKeys(ctx, rs, "rs-1", nil, newSigningKey("rs-3", rs), retire, t0), "rotation")
	must(t, s.RotateSigningKeys(ctx, es, "es-1", nil, newSigningKey("es-3", es), retire, t0), "rotation of ES256")

	revokedAt := t0.Add(time.Hour).In(elsewhere)
	must(t, s.RevokeSigningKey(ctx, "rs-1", revokedAt), "revoke rs-1")
	revoked := storedKey("rs-1", rs, store.KeyPrevious, revokedAt)
	revoked.RevokedAt = revokedAt
	wantSigningKeys(t, s, "keys after revocation",
		revoked,
		storedKey("rs-2", rs, store.KeyCurrent, zero),
		storedKey("rs-3", rs, store.KeyNext, zero),
		storedKey("es-1", es, store.KeyPrevious, retire),
		storedKey("es-2", es, store.KeyCurrent, zero),
		storedKey("es-3", es, store.KeyNext, zero))
	wantErr(t, s.RevokeSigningKey(ctx, "rs-1", revokedAt.Add(time.Minute)), store.ErrNotFound, "revoke rs-1 again")

	// A key that retired already keeps its earlier retirement time.
	late := retire.Add(time.Hour)
	must(t, s.RevokeSigningKey(ctx, "es-1", late), "revoke retired es-1")
	retired := storedKey("es-1", es, store.KeyPrevious, retire)
	retired.RevokedAt = late
	wantSigningKeys(t, s, "keys after revoking a retired key",
		revoked,
		storedKey("rs-2", rs, store.KeyCurrent, zero),
		storedKey("rs-3", rs, store.KeyNext, zero),
		retired,
		storedKey("es-2", es, store.KeyCurrent, zero),
		storedKey("es-3", es, store.KeyNext, zero))

	// The next rotation deletes the revoked key with the retired ones.
	must(t, s.RotateSigningKeys(ctx, rs, "rs-2", nil, newSigningKey("rs-4", rs), late.Add(time.Hour), late), "rotation after revocation")
	wantSigningKeys(t, s, "keys after the next rotation",
		storedKey("rs-2", rs, store.KeyPrevious, late.Add(time.Hour)),
		storedKey("rs-3", rs, store.KeyCurrent, zero),
		storedKey("rs-4", rs, store.KeyNext, zero),
		retired,
		storedKey("es-2", es, store.KeyCurrent, zero),
		storedKey("es-3", es, store.KeyNext, zero))
}

// testOrganizationMetadata checks that metadata is replaced as a whole, keys
// and values kept byte for byte.
func testOrganizationMetadata(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := newOrganization("org_meta", "meta")
	o.Metadata = map[string]string{`quote"d`: `back\slash`, "empty": "", "ключ": "значение"}
	must(t, s.CreateOrganization(ctx, o), "create organization")
	wantOrganization(t, s, o, "created with metadata")

	o.Metadata = map[string]string{"empty": "now set"}
	o.PageBackground = ""
	must(t, s.UpdateOrganization(ctx, o), "replace metadata")
	wantOrganization(t, s, o, "metadata replaced")
	list := listOrganizations(t, s)
	wantEqual(t, list, []store.Organization{o}, "list after replacing metadata")

	o.Metadata = nil
	must(t, s.UpdateOrganization(ctx, o), "clear metadata")
	wantOrganization(t, s, o, "metadata cleared")
}
