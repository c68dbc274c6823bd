package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

const webauthnColumns = `f.id, f.user_id, f.type, f.name, f.created_at, f.last_used_at,
	w.credential_id, w.public_key, w.attestation_type, w.attestation_format, w.aaguid, w.sign_count,
	w.clone_warning, w.transports, w.attachment, w.user_present, w.user_verified,
	w.backup_eligible, w.backup_state`

const (
	qGetTOTP = `SELECT id, user_id, name, secret_sealed, confirmed, last_step, created_at, last_used_at
		FROM mfa_factors WHERE user_id = ? AND type = 'totp'`
	qDeletePendingTOTP = `DELETE FROM mfa_factors WHERE user_id = ? AND type = 'totp' AND confirmed = 0`
	qInsertFactor      = `INSERT INTO mfa_factors (id, user_id, type, name, confirmed, secret_sealed, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	qConfirmTOTP = `UPDATE mfa_factors SET confirmed = 1, last_step = ?
		WHERE id = ? AND user_id = ? AND type = 'totp' AND confirmed = 0`
	// qUseTOTPStep accepts only a step after the last one: the write lock
	// orders concurrent uses, and each sees the step of those before it.
	qUseTOTPStep = `UPDATE mfa_factors SET last_step = ?, last_used_at = ?
		WHERE user_id = ? AND type = 'totp' AND confirmed = 1 AND last_step < ?`
	qHasConfirmedTOTP = `SELECT EXISTS (SELECT 1 FROM mfa_factors WHERE user_id = ? AND type = 'totp' AND confirmed = 1)`

	qDeleteRecoveryFactor = `DELETE FROM mfa_factors WHERE user_id = ? AND type = 'recovery-code'`
	qInsertRecoveryCode   = `INSERT INTO recovery_codes (factor_id, code_hash) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qUseRecoveryCode      = `UPDATE recovery_codes SET used_at = ?
		WHERE code_hash = ? AND used_at IS NULL
		AND factor_id = (SELECT id FROM mfa_factors WHERE user_id = ? AND type = 'recovery-code')
		RETURNING factor_id`
	qRecoveryCodeUsed = `SELECT EXISTS (SELECT 1 FROM recovery_codes WHERE code_hash = ?
		AND factor_id = (SELECT id FROM mfa_factors WHERE user_id = ? AND type = 'recovery-code'))`
	qRecoveryCodesLeft = `SELECT count(*) FROM recovery_codes WHERE factor_id = ? AND used_at IS NULL`
	qTouchFactor       = `UPDATE mfa_factors SET last_used_at = ? WHERE id = ?`

	qGetUserHandle      = `SELECT handle FROM webauthn_user_handles WHERE user_id = ?`
	qInsertUserHandle   = `INSERT INTO webauthn_user_handles (user_id, handle) VALUES (?, ?)`
	qUserIDByHandle     = `SELECT user_id FROM webauthn_user_handles WHERE handle = ?`
	qInsertWebAuthnCred = `INSERT INTO webauthn_credentials (factor_id, credential_id, public_key,
		attestation_type, attestation_format, aaguid, sign_count, clone_warning, transports, attachment,
		user_present, user_verified, backup_eligible, backup_state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qListWebAuthnCreds = `SELECT ` + webauthnColumns + ` FROM webauthn_credentials w
		JOIN mfa_factors f ON f.id = w.factor_id WHERE f.user_id = ? ORDER BY f.created_at, f.id`
	qGetWebAuthnCred = `SELECT ` + webauthnColumns + ` FROM webauthn_credentials w
		JOIN mfa_factors f ON f.id = w.factor_id WHERE w.credential_id = ?`
	qWebAuthnCount    = `SELECT factor_id, sign_count FROM webauthn_credentials WHERE credential_id = ?`
	qRecordWebAuthUse = `UPDATE webauthn_credentials SET sign_count = ?, user_present = ?, user_verified = ?,
		backup_eligible = ?, backup_state = ? WHERE factor_id = ?`
	qFlagClone = `UPDATE webauthn_credentials SET clone_warning = 1 WHERE factor_id = ?`

	qListFactors = `SELECT f.id, f.user_id, f.type, f.name, f.confirmed, f.created_at, f.last_used_at,
		(SELECT count(*) FROM recovery_codes r WHERE r.factor_id = f.id AND r.used_at IS NULL)
		FROM mfa_factors f WHERE f.user_id = ? ORDER BY f.created_at, f.id`
	qDeleteFactor  = `DELETE FROM mfa_factors WHERE id = ? AND user_id = ?`
	qDeleteFactors = `DELETE FROM mfa_factors WHERE user_id = ?`
)

// userExists fails with ErrNotFound, naming the user, when there is no such
// user. Inside the write transaction it holds until the commit, so the
// foreign keys that follow cannot fail.
func userExists(ctx context.Context, t tx, userID string) error {
	var ok bool
	if err := t.queryRow(ctx, qUserExists, userID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
	}
	return nil
}

// EnrollTOTP stores f as the user's unconfirmed TOTP factor, replacing an
// unconfirmed one; ErrConflict when a confirmed one exists, ErrNotFound for
// an unknown user.
func (db *DB) EnrollTOTP(ctx context.Context, f store.TOTPFactor) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := userExists(ctx, t, f.UserID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qDeletePendingTOTP, f.UserID); err != nil {
			return err
		}
		_, err := t.exec(ctx, qInsertFactor, f.ID, f.UserID, store.FactorTOTP, f.Name, false,
			f.SecretSealed, millis(f.CreatedAt))
		return err
	})
	return fail("enroll totp", err)
}

// GetTOTP returns the user's TOTP factor; ErrNotFound.
func (db *DB) GetTOTP(ctx context.Context, userID string) (store.TOTPFactor, error) {
	var f store.TOTPFactor
	err := db.queryRow(ctx, qGetTOTP, userID).Scan(&f.ID, &f.UserID, &f.Name, &f.SecretSealed,
		&f.Confirmed, &f.LastStep, timeCol{&f.CreatedAt}, timeCol{&f.LastUsedAt})
	return f, fail("get totp", err)
}

// ConfirmTOTP confirms the unconfirmed TOTP factor id of the user with the
// step of its first code; ErrNotFound.
func (db *DB) ConfirmTOTP(ctx context.Context, userID, id string, step int64) error {
	return fail("confirm totp", changed(db.exec(ctx, qConfirmTOTP, step, id, userID)))
}

// UseTOTPStep records step as used when it is after the last accepted one;
// ErrAlreadyUsed when it is not, ErrNotFound without a confirmed factor.
func (db *DB) UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) error {
	err := db.inTx(ctx, func(t tx) error {
		err := changed(t.exec(ctx, qUseTOTPStep, step, millis(now), userID, step))
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var enrolled bool
		if err := t.queryRow(ctx, qHasConfirmedTOTP, userID).Scan(&enrolled); err != nil {
			return err
		}
		if enrolled {
			return store.ErrAlreadyUsed
		}
		return store.ErrNotFound
	})
	return fail("use totp step", err)
}

// SetRecoveryCodes replaces the user's recovery codes.
func (db *DB) SetRecoveryCodes(ctx context.Context, userID, id string, hashes []string, now time.Time) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := userExists(ctx, t, userID); err != nil {
			return err
		}
		// The old codes go with their factor (ON DELETE CASCADE).
		if _, err := t.exec(ctx, qDeleteRecoveryFactor, userID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qInsertFactor, id, userID, store.FactorRecoveryCode, "", true, nil, millis(now)); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := t.exec(ctx, qInsertRecoveryCode, id, h); err != nil {
				return err
			}
		}
		return nil
	})
	return fail("set recovery codes", err)
}

// UseRecoveryCode spends one of the user's recovery codes and returns how
// many are left; ErrNotFound, ErrAlreadyUsed.
func (db *DB) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (int, error) {
	var left int
	err := db.inTx(ctx, func(t tx) error {
		var factorID string
		err := t.queryRow(ctx, qUseRecoveryCode, millis(now), hash, userID).Scan(&factorID)
		if errors.Is(err, sql.ErrNoRows) {
			var used bool
			if err := t.queryRow(ctx, qRecoveryCodeUsed, hash, userID).Scan(&used); err != nil {
				return err
			}
			if used {
				return store.ErrAlreadyUsed
			}
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, qTouchFactor, millis(now), factorID); err != nil {
			return err
		}
		return t.queryRow(ctx, qRecoveryCodesLeft, factorID).Scan(&left)
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
	err := db.inTx(ctx, func(t tx) error {
		err := t.queryRow(ctx, qGetUserHandle, userID).Scan(&got)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := userExists(ctx, t, userID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qInsertUserHandle, userID, handle); err != nil {
			return err
		}
		got = handle
		return nil
	})
	if err != nil {
		return nil, fail("webauthn user handle", err)
	}
	return got, nil
}

// UserIDByWebAuthnHandle returns the user with the handle; ErrNotFound.
func (db *DB) UserIDByWebAuthnHandle(ctx context.Context, handle []byte) (string, error) {
	var id string
	err := db.queryRow(ctx, qUserIDByHandle, handle).Scan(&id)
	return id, fail("user by webauthn handle", err)
}

// AddWebAuthnCredential stores a new credential; ErrConflict, ErrNotFound.
func (db *DB) AddWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	if !store.IsWebAuthnType(c.Type) {
		return fmt.Errorf("add webauthn credential: type %q is not a WebAuthn factor type", c.Type)
	}
	err := db.inTx(ctx, func(t tx) error {
		if err := userExists(ctx, t, c.UserID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qInsertFactor, c.ID, c.UserID, c.Type, c.Name, true, nil, millis(c.CreatedAt)); err != nil {
			return err
		}
		if !c.LastUsedAt.IsZero() {
			if _, err := t.exec(ctx, qTouchFactor, millis(c.LastUsedAt), c.ID); err != nil {
				return err
			}
		}
		_, err := t.exec(ctx, qInsertWebAuthnCred, c.ID, nonNil(c.CredentialID), nonNil(c.PublicKey),
			c.AttestationType, c.AttestationFormat, nonNil(c.AAGUID), int64(c.SignCount), c.CloneWarning,
			listJSON(c.Transports), c.Attachment, c.UserPresent, c.UserVerified, c.BackupEligible, c.BackupState)
		return err
	})
	return fail("add webauthn credential", err)
}

// nonNil turns a nil byte slice into an empty one for a NOT NULL BLOB column.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func scanWebAuthnCredential(row interface{ Scan(...any) error }) (store.WebAuthnCredential, error) {
	var c store.WebAuthnCredential
	var count int64
	err := row.Scan(&c.ID, &c.UserID, &c.Type, &c.Name, timeCol{&c.CreatedAt}, timeCol{&c.LastUsedAt},
		&c.CredentialID, &c.PublicKey, &c.AttestationType, &c.AttestationFormat, &c.AAGUID, &count,
		&c.CloneWarning, jsonCol{&c.Transports}, &c.Attachment, &c.UserPresent, &c.UserVerified,
		&c.BackupEligible, &c.BackupState)
	c.SignCount = uint32(count)
	return c, err
}

// ListWebAuthnCredentials returns the user's credentials by creation.
func (db *DB) ListWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	rows, err := db.query(ctx, qListWebAuthnCreds, userID)
	if err != nil {
		return nil, fail("list webauthn credentials", err)
	}
	defer rows.Close()
	var cs []store.WebAuthnCredential
	for rows.Next() {
		c, err := scanWebAuthnCredential(rows)
		if err != nil {
			return nil, fail("list webauthn credentials", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list webauthn credentials", err)
	}
	return cs, nil
}

// GetWebAuthnCredential returns the credential; ErrNotFound.
func (db *DB) GetWebAuthnCredential(ctx context.Context, credentialID []byte) (store.WebAuthnCredential, error) {
	c, err := scanWebAuthnCredential(db.queryRow(ctx, qGetWebAuthnCred, credentialID))
	return c, fail("get webauthn credential", err)
}

// RecordWebAuthnUse stores an assertion's count, flags and time, or flags a
// count that did not advance and returns ErrAlreadyUsed.
func (db *DB) RecordWebAuthnUse(ctx context.Context, credentialID []byte, use store.WebAuthnUse) error {
	refused := false
	err := db.inTx(ctx, func(t tx) error {
		refused = false
		var factorID string
		var stored int64
		if err := t.queryRow(ctx, qWebAuthnCount, credentialID).Scan(&factorID, &stored); err != nil {
			return err
		}
		next := int64(use.SignCount)
		if next <= stored && (next != 0 || stored != 0) {
			// Committed, not rolled back: the warning outlives the refusal.
			refused = true
			_, err := t.exec(ctx, qFlagClone, factorID)
			return err
		}
		if _, err := t.exec(ctx, qRecordWebAuthUse, next, use.UserPresent, use.UserVerified,
			use.BackupEligible, use.BackupState, factorID); err != nil {
			return err
		}
		_, err := t.exec(ctx, qTouchFactor, millis(use.At), factorID)
		return err
	})
	if err == nil && refused {
		err = fmt.Errorf("sign count %d did not advance: %w", use.SignCount, store.ErrAlreadyUsed)
	}
	return fail("record webauthn use", err)
}

// ListFactors returns the user's factors by creation.
func (db *DB) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	rows, err := db.query(ctx, qListFactors, userID)
	if err != nil {
		return nil, fail("list factors", err)
	}
	defer rows.Close()
	var fs []store.Factor
	for rows.Next() {
		var f store.Factor
		if err := rows.Scan(&f.ID, &f.UserID, &f.Type, &f.Name, &f.Confirmed, timeCol{&f.CreatedAt},
			timeCol{&f.LastUsedAt}, &f.RecoveryCodesLeft); err != nil {
			return nil, fail("list factors", err)
		}
		fs = append(fs, f)
	}
	if err := rows.Err(); err != nil {
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
	res, err := db.exec(ctx, qDeleteFactors, userID)
	if err != nil {
		return 0, fail("delete factors", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fail("delete factors", err)
	}
	return int(n), nil
}
