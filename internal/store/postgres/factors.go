package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const webauthnColumns = `f.id, f.user_id, f.type, f.name, f.created_at, f.last_used_at,
	w.credential_id, w.public_key, w.attestation_type, w.attestation_format, w.aaguid, w.sign_count,
	w.clone_warning, w.transports, w.attachment, w.user_present, w.user_verified,
	w.backup_eligible, w.backup_state`

const (
	// qLockUserForFactors locks the user against deletion (the lock a
	// foreign key check takes) and against other factor writes of the same
	// user that take it too, so those queue instead of racing.
	qLockUserForFactors = `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`
	// qLockUserKey only keeps the user from being deleted until commit.
	qLockUserKey = `SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE`

	qGetTOTP = `SELECT id, user_id, name, secret_sealed, confirmed, last_step, created_at, last_used_at
		FROM mfa_factors WHERE user_id = $1 AND type = 'totp'`
	qDeletePendingTOTP = `DELETE FROM mfa_factors WHERE user_id = $1 AND type = 'totp' AND NOT confirmed`
	qInsertFactor      = `INSERT INTO mfa_factors (id, user_id, type, name, confirmed, secret_sealed, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	qConfirmTOTP = `UPDATE mfa_factors SET confirmed = true, last_step = $1
		WHERE id = $2 AND user_id = $3 AND type = 'totp' AND NOT confirmed`
	// qUseTOTPStep accepts only a step after the last one. A concurrent
	// use of the same row waits for the row lock, and READ COMMITTED then
	// checks the WHERE clause again against the committed step.
	qUseTOTPStep = `UPDATE mfa_factors SET last_step = $1, last_used_at = $2
		WHERE user_id = $3 AND type = 'totp' AND confirmed AND last_step < $1`
	qHasConfirmedTOTP = `SELECT EXISTS (SELECT 1 FROM mfa_factors WHERE user_id = $1 AND type = 'totp' AND confirmed)`

	qDeleteRecoveryFactor = `DELETE FROM mfa_factors WHERE user_id = $1 AND type = 'recovery-code'`
	qInsertRecoveryCodes  = `INSERT INTO recovery_codes (factor_id, code_hash)
		SELECT $1, h FROM unnest($2::text[]) AS h ON CONFLICT DO NOTHING`
	// qUseRecoveryCode spends a code; the row lock settles concurrent
	// spenders, and those after the first find used_at set.
	qUseRecoveryCode = `UPDATE recovery_codes SET used_at = $1
		WHERE code_hash = $2 AND used_at IS NULL
		AND factor_id = (SELECT id FROM mfa_factors WHERE user_id = $3 AND type = 'recovery-code')
		RETURNING factor_id`
	qRecoveryCodeExists = `SELECT EXISTS (SELECT 1 FROM recovery_codes WHERE code_hash = $1
		AND factor_id = (SELECT id FROM mfa_factors WHERE user_id = $2 AND type = 'recovery-code'))`
	qRecoveryCodesLeft = `SELECT count(*) FROM recovery_codes WHERE factor_id = $1 AND used_at IS NULL`
	qTouchFactor       = `UPDATE mfa_factors SET last_used_at = $1 WHERE id = $2`

	qGetUserHandle = `SELECT handle FROM webauthn_user_handles WHERE user_id = $1`
	// qInsertUserHandle waits for a concurrent insert of the same user and
	// then does nothing; a handle of another user is a unique violation.
	qInsertUserHandle = `INSERT INTO webauthn_user_handles (user_id, handle) VALUES ($1, $2)
		ON CONFLICT (user_id) DO NOTHING`
	qUserIDByHandle     = `SELECT user_id FROM webauthn_user_handles WHERE handle = $1`
	qInsertWebAuthnCred = `INSERT INTO webauthn_credentials (factor_id, credential_id, public_key,
		attestation_type, attestation_format, aaguid, sign_count, clone_warning, transports, attachment,
		user_present, user_verified, backup_eligible, backup_state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	qListWebAuthnCreds = `SELECT ` + webauthnColumns + ` FROM webauthn_credentials w
		JOIN mfa_factors f ON f.id = w.factor_id WHERE f.user_id = $1 ORDER BY f.created_at, f.id COLLATE "C"`
	qGetWebAuthnCred = `SELECT ` + webauthnColumns + ` FROM webauthn_credentials w
		JOIN mfa_factors f ON f.id = w.factor_id WHERE w.credential_id = $1`
	qLockWebAuthnCount = `SELECT factor_id, sign_count FROM webauthn_credentials WHERE credential_id = $1 FOR UPDATE`
	qRecordWebAuthnUse = `UPDATE webauthn_credentials SET sign_count = $1, user_present = $2, user_verified = $3,
		backup_eligible = $4, backup_state = $5 WHERE factor_id = $6`
	qFlagClone = `UPDATE webauthn_credentials SET clone_warning = true WHERE factor_id = $1`

	qListFactors = `SELECT f.id, f.user_id, f.type, f.name, f.confirmed, f.created_at, f.last_used_at,
		(SELECT count(*) FROM recovery_codes r WHERE r.factor_id = f.id AND r.used_at IS NULL)
		FROM mfa_factors f WHERE f.user_id = $1 ORDER BY f.created_at, f.id COLLATE "C"`
	qDeleteFactor  = `DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2`
	qDeleteFactors = `DELETE FROM mfa_factors WHERE user_id = $1`
)

// lockUser takes lock q on the user's row; ErrNotFound, naming the user,
// when there is no such user.
func lockUser(ctx context.Context, tx pgx.Tx, q, userID string) error {
	var one int
	err := tx.QueryRow(ctx, q, userID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
	}
	return err
}

// nonNil turns a nil byte slice into an empty one for a NOT NULL bytea
// column: pgx sends nil as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// EnrollTOTP stores f as the user's unconfirmed TOTP factor, replacing an
// unconfirmed one; ErrConflict when a confirmed one exists, ErrNotFound for
// an unknown user.
func (db *DB) EnrollTOTP(ctx context.Context, f store.TOTPFactor) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, qLockUserForFactors, f.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qDeletePendingTOTP, f.UserID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qInsertFactor, f.ID, f.UserID, store.FactorTOTP, f.Name, false,
			nonNil(f.SecretSealed), f.CreatedAt, nil)
		return err
	})
	return fail("enroll totp", err)
}

// GetTOTP returns the user's TOTP factor; ErrNotFound.
func (db *DB) GetTOTP(ctx context.Context, userID string) (store.TOTPFactor, error) {
	var f store.TOTPFactor
	var lastUsed *time.Time
	err := db.pool.QueryRow(ctx, qGetTOTP, userID).Scan(&f.ID, &f.UserID, &f.Name, &f.SecretSealed,
		&f.Confirmed, &f.LastStep, &f.CreatedAt, &lastUsed)
	if err != nil {
		return store.TOTPFactor{}, fail("get totp", err)
	}
	f.CreatedAt, f.LastUsedAt = utc(f.CreatedAt), timeOrZero(lastUsed)
	return f, nil
}

// ConfirmTOTP confirms the unconfirmed TOTP factor id of the user with the
// step of its first code; ErrNotFound.
func (db *DB) ConfirmTOTP(ctx context.Context, userID, id string, step int64) error {
	return fail("confirm totp", changed(db.exec(ctx, qConfirmTOTP, step, id, userID)))
}

// UseTOTPStep records step as used when it is after the last accepted one;
// ErrAlreadyUsed when it is not, ErrNotFound without a confirmed factor.
func (db *DB) UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) error {
	n, err := db.exec(ctx, qUseTOTPStep, step, now, userID)
	if err != nil {
		return fail("use totp step", err)
	}
	if n == 1 {
		return nil
	}
	var enrolled bool
	if err := db.pool.QueryRow(ctx, qHasConfirmedTOTP, userID).Scan(&enrolled); err != nil {
		return fail("use totp step", err)
	}
	if enrolled {
		return fail("use totp step", store.ErrAlreadyUsed)
	}
	return fail("use totp step", store.ErrNotFound)
}

// SetRecoveryCodes replaces the user's recovery codes.
func (db *DB) SetRecoveryCodes(ctx context.Context, userID, id string, hashes []string, now time.Time) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, qLockUserForFactors, userID); err != nil {
			return err
		}
		// The old codes go with their factor (ON DELETE CASCADE).
		if _, err := tx.Exec(ctx, qDeleteRecoveryFactor, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qInsertFactor, id, userID, store.FactorRecoveryCode, "", true, nil, now, nil); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qInsertRecoveryCodes, id, list(hashes))
		return err
	})
	return fail("set recovery codes", err)
}

// UseRecoveryCode spends one of the user's recovery codes and returns how
// many are left; ErrNotFound, ErrAlreadyUsed.
func (db *DB) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (int, error) {
	var left int
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var factorID string
		err := tx.QueryRow(ctx, qUseRecoveryCode, now, hash, userID).Scan(&factorID)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, qRecoveryCodeExists, hash, userID).Scan(&exists); err != nil {
				return err
			}
			if exists {
				return store.ErrAlreadyUsed
			}
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qTouchFactor, now, factorID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, qRecoveryCodesLeft, factorID).Scan(&left)
	})
	if err != nil {
		return 0, fail("use recovery code", err)
	}
	return left, nil
}

// WebAuthnUserHandle returns the user's handle, storing handle when there is
// none.
func (db *DB) WebAuthnUserHandle(ctx context.Context, userID string, handle []byte) ([]byte, error) {
	var got []byte
	err := db.pool.QueryRow(ctx, qGetUserHandle, userID).Scan(&got)
	if err == nil {
		return got, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fail("webauthn user handle", err)
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, qLockUserKey, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qInsertUserHandle, userID, nonNil(handle)); err != nil {
			return err
		}
		// A new snapshot: it sees this insert or the concurrent one that
		// made it do nothing.
		return tx.QueryRow(ctx, qGetUserHandle, userID).Scan(&got)
	})
	if err != nil {
		return nil, fail("webauthn user handle", err)
	}
	return got, nil
}

// UserIDByWebAuthnHandle returns the user with the handle; ErrNotFound.
func (db *DB) UserIDByWebAuthnHandle(ctx context.Context, handle []byte) (string, error) {
	var id string
	err := db.pool.QueryRow(ctx, qUserIDByHandle, nonNil(handle)).Scan(&id)
	return id, fail("user by webauthn handle", err)
}

// AddWebAuthnCredential stores a new credential; ErrConflict, ErrNotFound.
func (db *DB) AddWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	if !store.IsWebAuthnType(c.Type) {
		return fmt.Errorf("add webauthn credential: type %q is not a WebAuthn factor type", c.Type)
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, qLockUserKey, c.UserID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qInsertFactor, c.ID, c.UserID, c.Type, c.Name, true, nil,
			c.CreatedAt, nullTime(c.LastUsedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qInsertWebAuthnCred, c.ID, nonNil(c.CredentialID), nonNil(c.PublicKey),
			c.AttestationType, c.AttestationFormat, nonNil(c.AAGUID), int64(c.SignCount), c.CloneWarning,
			list(c.Transports), c.Attachment, c.UserPresent, c.UserVerified, c.BackupEligible, c.BackupState)
		return err
	})
	return fail("add webauthn credential", err)
}

func scanWebAuthnCredential(row pgx.CollectableRow) (store.WebAuthnCredential, error) {
	var c store.WebAuthnCredential
	var lastUsed *time.Time
	var count int64
	if err := row.Scan(&c.ID, &c.UserID, &c.Type, &c.Name, &c.CreatedAt, &lastUsed,
		&c.CredentialID, &c.PublicKey, &c.AttestationType, &c.AttestationFormat, &c.AAGUID, &count,
		&c.CloneWarning, &c.Transports, &c.Attachment, &c.UserPresent, &c.UserVerified,
		&c.BackupEligible, &c.BackupState); err != nil {
		return store.WebAuthnCredential{}, err
	}
	c.SignCount = uint32(count)
	c.CreatedAt, c.LastUsedAt = utc(c.CreatedAt), timeOrZero(lastUsed)
	return c, nil
}

// ListWebAuthnCredentials returns the user's credentials by creation.
func (db *DB) ListWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	cs, err := queryAll(ctx, db.pool, scanWebAuthnCredential, qListWebAuthnCreds, userID)
	if err != nil {
		return nil, fail("list webauthn credentials", err)
	}
	return cs, nil
}

// GetWebAuthnCredential returns the credential; ErrNotFound.
func (db *DB) GetWebAuthnCredential(ctx context.Context, credentialID []byte) (store.WebAuthnCredential, error) {
	c, err := queryOne(ctx, db.pool, scanWebAuthnCredential, qGetWebAuthnCred, nonNil(credentialID))
	if err != nil {
		return store.WebAuthnCredential{}, fail("get webauthn credential", err)
	}
	return c, nil
}

// RecordWebAuthnUse stores an assertion's count, flags and time, or flags a
// count that did not advance and returns ErrAlreadyUsed.
func (db *DB) RecordWebAuthnUse(ctx context.Context, credentialID []byte, use store.WebAuthnUse) error {
	refused := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		refused = false
		var factorID string
		var stored int64
		if err := tx.QueryRow(ctx, qLockWebAuthnCount, nonNil(credentialID)).Scan(&factorID, &stored); err != nil {
			return err
		}
		next := int64(use.SignCount)
		if next <= stored && (next != 0 || stored != 0) {
			// Committed, not rolled back: the warning outlives the refusal.
			refused = true
			_, err := tx.Exec(ctx, qFlagClone, factorID)
			return err
		}
		if _, err := tx.Exec(ctx, qRecordWebAuthnUse, next, use.UserPresent, use.UserVerified,
			use.BackupEligible, use.BackupState, factorID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qTouchFactor, use.At, factorID)
		return err
	})
	if err == nil && refused {
		err = fmt.Errorf("sign count %d did not advance: %w", use.SignCount, store.ErrAlreadyUsed)
	}
	return fail("record webauthn use", err)
}

func scanFactor(row pgx.CollectableRow) (store.Factor, error) {
	var f store.Factor
	var lastUsed *time.Time
	if err := row.Scan(&f.ID, &f.UserID, &f.Type, &f.Name, &f.Confirmed, &f.CreatedAt, &lastUsed,
		&f.RecoveryCodesLeft); err != nil {
		return store.Factor{}, err
	}
	f.CreatedAt, f.LastUsedAt = utc(f.CreatedAt), timeOrZero(lastUsed)
	return f, nil
}

// ListFactors returns the user's factors by creation.
func (db *DB) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	fs, err := queryAll(ctx, db.pool, scanFactor, qListFactors, userID)
	if err != nil {
		return nil, fail("list factors", err)
	}
	return fs, nil
}

// DeleteFactor removes one factor of the user with what belongs to it;
// ErrNotFound.
func (db *DB) DeleteFactor(ctx context.Context, userID, id string) error {
	return fail("delete factor", changed(db.exec(ctx, qDeleteFactor, id, userID)))
}

// DeleteFactors removes every factor of the user.
func (db *DB) DeleteFactors(ctx context.Context, userID string) (int, error) {
	n, err := db.exec(ctx, qDeleteFactors, userID)
	if err != nil {
		return 0, fail("delete factors", err)
	}
	return int(n), nil
}
