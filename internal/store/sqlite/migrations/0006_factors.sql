-- Users' authentication factors: authenticator apps (TOTP), recovery codes,
-- WebAuthn security keys and passkeys. Everything goes with its user (ON
-- DELETE CASCADE), so DeleteUser and LinkUsers need no statement of their
-- own for it.

-- One row per factor, whatever its type, so that listing and deleting a
-- user's factors are one statement each. The TOTP columns are those of
-- type 'totp' only; the others keep their defaults.
CREATE TABLE mfa_factors (
	id            TEXT    NOT NULL PRIMARY KEY,
	user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	type          TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	confirmed     INTEGER NOT NULL,
	secret_sealed BLOB,
	last_step     INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	last_used_at  INTEGER
) STRICT;

CREATE INDEX mfa_factors_user_id ON mfa_factors (user_id, created_at, id);

-- At most one authenticator app and one set of recovery codes per user.
CREATE UNIQUE INDEX mfa_factors_one_totp ON mfa_factors (user_id) WHERE type = 'totp';
CREATE UNIQUE INDEX mfa_factors_one_recovery ON mfa_factors (user_id) WHERE type = 'recovery-code';

-- The SHA-256 hashes of a recovery-code factor's codes; used_at is set when
-- a code is spent.
CREATE TABLE recovery_codes (
	factor_id TEXT    NOT NULL REFERENCES mfa_factors (id) ON DELETE CASCADE,
	code_hash TEXT    NOT NULL,
	used_at   INTEGER,
	PRIMARY KEY (factor_id, code_hash)
) STRICT, WITHOUT ROWID;

-- The credential record of a WebAuthn factor.
CREATE TABLE webauthn_credentials (
	factor_id          TEXT    NOT NULL PRIMARY KEY REFERENCES mfa_factors (id) ON DELETE CASCADE,
	credential_id      BLOB    NOT NULL UNIQUE,
	public_key         BLOB    NOT NULL,
	attestation_type   TEXT    NOT NULL,
	attestation_format TEXT    NOT NULL,
	aaguid             BLOB    NOT NULL,
	sign_count         INTEGER NOT NULL,
	clone_warning      INTEGER NOT NULL,
	transports         TEXT    NOT NULL,
	attachment         TEXT    NOT NULL,
	user_present       INTEGER NOT NULL,
	user_verified      INTEGER NOT NULL,
	backup_eligible    INTEGER NOT NULL,
	backup_state       INTEGER NOT NULL
) STRICT;

-- Each user's WebAuthn user handle: random, stable, and what a passkey
-- hands back to name its user. It stays when the user's factors are
-- reset, and goes with the user.
CREATE TABLE webauthn_user_handles (
	user_id TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	handle  BLOB NOT NULL UNIQUE
) STRICT;
