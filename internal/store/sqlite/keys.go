package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

const (
	qListSigningKeys = `SELECT id, algorithm, state, private_encrypted, public_jwk, created_at, retire_at,
		revoked_at FROM signing_keys ORDER BY created_at, id`
	qInsertSigningKey = `INSERT INTO signing_keys (id, algorithm, state, private_encrypted, public_jwk, created_at, retire_at)
		VALUES (?, ?, ?, ?, ?, ?, NULL)`
)

// ListSigningKeys returns every key, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.query(ctx, qListSigningKeys)
	if err != nil {
		return nil, fail("list signing keys", err)
	}
	defer rows.Close()
	var keys []store.SigningKey
	for rows.Next() {
		var k store.SigningKey
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.State, &k.PrivateEncrypted, &k.PublicJWK,
			timeCol{&k.CreatedAt}, timeCol{&k.RetireAt}, timeCol{&k.RevokedAt}); err != nil {
			return nil, fail("list signing keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list signing keys", err)
	}
	return keys, nil
}

// RotateSigningKeys applies one rotation of alg's ring in one transaction:
// its current key becomes previous, its next key becomes current, newNext is
// stored as next, and its previous keys retired before now are deleted.
// With no current key of alg it stores initial as current and newNext as
// next. ErrConflict when expectCurrent is not the ID of alg's current key
// ("" for none). Keys of other algorithms are not touched.
func (db *DB) RotateSigningKeys(ctx context.Context, alg, expectCurrent string, initial *store.SigningKey, newNext store.SigningKey, retireAt, now time.Time) error {
	if err := ofRing(alg, initial, newNext); err != nil {
		return fail("rotate signing keys", err)
	}
	err := db.inTx(ctx, func(t tx) error {
		rows, err := t.query(ctx, `SELECT id, state FROM signing_keys
			WHERE algorithm = ? AND state IN ('current', 'next')`, alg)
		if err != nil {
			return err
		}
		var current, next string
		for rows.Next() {
			var id, state string
			if err := rows.Scan(&id, &state); err != nil {
				rows.Close()
				return err
			}
			if state == store.KeyCurrent {
				current = id
			} else {
				next = id
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}

		switch {
		case current != expectCurrent:
			return fmt.Errorf("current %s key is %q, not %q: %w", alg, current, expectCurrent, store.ErrConflict)
		case current == "":
			if initial == nil {
				return fmt.Errorf("no current %s key and no initial key", alg)
			}
			if err := insertSigningKey(ctx, t, *initial, store.KeyCurrent); err != nil {
				return err
			}
		case next == "":
			return fmt.Errorf("no next %s key to make current", alg)
		default:
			if _, err := t.exec(ctx, `UPDATE signing_keys SET state = 'previous', retire_at = ? WHERE id = ?`,
				millis(retireAt), current); err != nil {
				return err
			}
			if _, err := t.exec(ctx, `UPDATE signing_keys SET state = 'current' WHERE id = ?`, next); err != nil {
				return err
			}
		}
		if err := insertSigningKey(ctx, t, newNext, store.KeyNext); err != nil {
			return err
		}
		_, err = t.exec(ctx, `DELETE FROM signing_keys WHERE algorithm = ? AND state = 'previous' AND retire_at < ?`,
			alg, millis(now))
		return err
	})
	return fail("rotate signing keys", err)
}

// ofRing refuses keys of another algorithm than alg: stored, they would
// join another ring than the one being rotated.
func ofRing(alg string, initial *store.SigningKey, newNext store.SigningKey) error {
	if alg == "" {
		return errors.New("no algorithm")
	}
	if newNext.Algorithm != alg {
		return fmt.Errorf("next key %q is %s, not %s", newNext.ID, newNext.Algorithm, alg)
	}
	if initial != nil && initial.Algorithm != alg {
		return fmt.Errorf("initial key %q is %s, not %s", initial.ID, initial.Algorithm, alg)
	}
	return nil
}

func insertSigningKey(ctx context.Context, t tx, k store.SigningKey, state string) error {
	// The columns are NOT NULL; a nil slice would bind as NULL.
	priv, pub := k.PrivateEncrypted, k.PublicJWK
	if priv == nil {
		priv = []byte{}
	}
	if pub == nil {
		pub = []byte{}
	}
	_, err := t.exec(ctx, qInsertSigningKey, k.ID, k.Algorithm, state, priv, pub, millis(k.CreatedAt))
	return err
}

// RevokeSigningKey revokes the previous key kid at now: it retires at now
// (or when it retired already) and records when it was revoked.
// ErrNotFound unless kid is a previous key not revoked yet.
func (db *DB) RevokeSigningKey(ctx context.Context, kid string, now time.Time) error {
	err := changed(db.exec(ctx, `UPDATE signing_keys SET retire_at = min(retire_at, ?), revoked_at = ?
		WHERE id = ? AND state = 'previous' AND revoked_at IS NULL`, millis(now), millis(now), kid))
	return fail("revoke signing key", err)
}
