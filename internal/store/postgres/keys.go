package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const (
	qListSigningKeys = `SELECT id, algorithm, state, private_encrypted, public_jwk, created_at, retire_at,
		revoked_at FROM signing_keys ORDER BY created_at, id`
	qInsertSigningKey = `INSERT INTO signing_keys (id, algorithm, state, private_encrypted, public_jwk, created_at, retire_at)
		VALUES ($1, $2, $3, $4, $5, $6, NULL)`
	// qLockRing locks the current and next keys of one algorithm, so that
	// a concurrent rotation of the ring waits and then sees this one's
	// result. Two first starts find nothing to lock; the unique index on
	// (algorithm, state) lets only one of them insert.
	qLockRing = `SELECT id, state FROM signing_keys
		WHERE algorithm = $1 AND state IN ('current', 'next') FOR UPDATE`
)

func scanSigningKey(row pgx.CollectableRow) (store.SigningKey, error) {
	var k store.SigningKey
	var retireAt, revokedAt *time.Time
	err := row.Scan(&k.ID, &k.Algorithm, &k.State, &k.PrivateEncrypted, &k.PublicJWK, &k.CreatedAt, &retireAt, &revokedAt)
	k.CreatedAt, k.RetireAt, k.RevokedAt = utc(k.CreatedAt), timeOrZero(retireAt), timeOrZero(revokedAt)
	return k, err
}

// ListSigningKeys returns every key of every algorithm, oldest first.
func (db *DB) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := queryAll(ctx, db.pool, scanSigningKey, qListSigningKeys)
	if err != nil {
		return nil, fail("list signing keys", err)
	}
	return keys, nil
}

// RotateSigningKeys applies one rotation of alg's ring in one transaction:
// current becomes previous, next becomes current, newNext is stored as next,
// and alg's previous keys retired before now are deleted. With no current
// key it stores initial as current and newNext as next. ErrConflict when
// expectCurrent is not alg's current key's ID ("" for none), or when
// another process started the ring at the same moment.
func (db *DB) RotateSigningKeys(ctx context.Context, alg, expectCurrent string, initial *store.SigningKey, newNext store.SigningKey, retireAt, now time.Time) error {
	if err := ofRing(alg, initial, newNext); err != nil {
		return fail("rotate signing keys", err)
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qLockRing, alg)
		if err != nil {
			return err
		}
		var current, next string
		var id, state string
		_, err = pgx.ForEachRow(rows, []any{&id, &state}, func() error {
			if state == store.KeyCurrent {
				current = id
			} else {
				next = id
			}
			return nil
		})
		if err != nil {
			return err
		}

		switch {
		case current != expectCurrent:
			return fmt.Errorf("%s current key is %q, not %q: %w", alg, current, expectCurrent, store.ErrConflict)
		case current == "":
			if initial == nil {
				return fmt.Errorf("no %s current key and no initial key", alg)
			}
			if err := insertSigningKey(ctx, tx, *initial, store.KeyCurrent); err != nil {
				return err
			}
		case next == "":
			return fmt.Errorf("no %s next key to make current", alg)
		default:
			if _, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'previous', retire_at = $2 WHERE id = $1`,
				current, retireAt); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'current' WHERE id = $1`, next); err != nil {
				return err
			}
		}
		if err := insertSigningKey(ctx, tx, newNext, store.KeyNext); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM signing_keys WHERE algorithm = $1 AND state = 'previous' AND retire_at < $2`,
			alg, now)
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

// insertSigningKey stores k in the state given; the state the caller put in
// k is ignored.
func insertSigningKey(ctx context.Context, tx pgx.Tx, k store.SigningKey, state string) error {
	// The columns are NOT NULL; a nil slice would be sent as NULL.
	priv, pub := k.PrivateEncrypted, k.PublicJWK
	if priv == nil {
		priv = []byte{}
	}
	if pub == nil {
		pub = []byte{}
	}
	_, err := tx.Exec(ctx, qInsertSigningKey, k.ID, k.Algorithm, state, priv, pub, k.CreatedAt)
	return err
}

// RevokeSigningKey revokes the previous key kid at now: it retires at now
// (or when it retired already) and records when it was revoked.
// ErrNotFound unless kid is a previous key not revoked yet.
func (db *DB) RevokeSigningKey(ctx context.Context, kid string, now time.Time) error {
	n, err := db.exec(ctx, `UPDATE signing_keys SET retire_at = LEAST(retire_at, $2), revoked_at = $2
		WHERE id = $1 AND state = 'previous' AND revoked_at IS NULL`, kid, now)
	return fail("revoke signing key", changed(n, err))
}
