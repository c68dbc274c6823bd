package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

const (
	qListSigningKeys = `SELECT id, algorithm, state, private_encrypted, public_jwk, created_at, retire_at
		FROM signing_keys ORDER BY created_at, id`
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
			timeCol{&k.CreatedAt}, timeCol{&k.RetireAt}); err != nil {
			return nil, fail("list signing keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list signing keys", err)
	}
	return keys, nil
}

// RotateSigningKeys applies one rotation in one transaction: current becomes
// previous, next becomes current, newNext is stored as next, and previous
// keys retired before now are deleted. With no current key it stores
// initial as current and newNext as next. ErrConflict when expectCurrent is
// not the current key's ID ("" for none).
func (db *DB) RotateSigningKeys(ctx context.Context, expectCurrent string, initial *store.SigningKey, newNext store.SigningKey, retireAt, now time.Time) error {
	err := db.inTx(ctx, func(t tx) error {
		rows, err := t.query(ctx, `SELECT id, state FROM signing_keys WHERE state IN ('current', 'next')`)
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
			return fmt.Errorf("current key is %q, not %q: %w", current, expectCurrent, store.ErrConflict)
		case current == "":
			if initial == nil {
				return errors.New("no current key and no initial key")
			}
			if err := insertSigningKey(ctx, t, *initial, store.KeyCurrent); err != nil {
				return err
			}
		case next == "":
			return errors.New("no next key to make current")
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
		_, err = t.exec(ctx, `DELETE FROM signing_keys WHERE state = 'previous' AND retire_at < ?`, millis(now))
		return err
	})
	return fail("rotate signing keys", err)
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
