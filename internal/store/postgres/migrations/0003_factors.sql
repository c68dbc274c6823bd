-- Users' authentication factors: authenticator apps (TOTP), recovery codes,
-- WebAuthn security keys and passkeys. Everything goes with its user (ON
-- DELETE CASCADE), so DeleteUser and LinkUsers need no statement of their
-- own for it.

-- One row per factor, whatever its type, so that listing and deleting a
-- user's factors are one statement each. The TOTP columns are those of
-- type 'totp' only; the others keep their defaults.
CREATE TABLE mfa_factors (
	id            text        NOT NULL PRIMARY KEY,
	user_id       text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	type          text        NOT NULL,
	name          text        NOT NULL,
	confirmed     boolean     NOT NULL,
	secret_sealed bytea,
	last_step     bigint      NOT NULL DEFAULT 0,
	created_at    timestamptz NOT NULL,
	last_used_at  timestamptz
);

CREATE INDEX mfa_factors_user_id ON mfa_factors (user_id, created_at, id COLLATE "C");

-- At most one authenticator app and one set of recovery codes per user.
CREATE UNIQUE INDEX mfa_factors_one_totp ON mfa_factors (user_id) WHERE type = 'totp';
CREATE UNIQUE INDEX mfa_factors_one_recovery ON mfa_factors (user_id) WHERE type = 'recovery-code';

-- The SHA-256 hashes of a recovery-code factor's codes; used_at is set when
-- a code is spent.
CREATE TABLE recovery_codes (
	factor_id text        NOT NULL REFERENCES mfa_factors (id) ON DELETE CASCADE,
	code_hash text        NOT NULL,
	used_at   timestamptz,
	PRIMARY KEY (factor_id, code_hash)
);

-- The credential record of a WebAuthn factor.
CREATE TABLE webauthn_credentials (
	factor_id          text    NOT NULL PRIMARY KEY REFERENCES mfa_factors (id) ON DELETE CASCADE,
	credential_id      bytea   NOT NULL UNIQUE,
	public_key         bytea   NOT NULL,
	attestation_type   text    NOT NULL,
	attestation_format text    NOT NULL,
	aaguid             bytea   NOT NULL,
	sign_count         bigint  NOT NULL,
	clone_warning      boolean NOT NULL,
	transports         jsonb   NOT NULL,
	attachment         text    NOT NULL,
	user_present       boolean NOT NULL,
	user_verified      boolean NOT NULL,
	backup_eligible    boolean NOT NULL,
	backup_state       boolean NOT NULL
);

-- Each user's WebAuthn user handle: random, stable, and what a passkey
-- hands back to name its user. It stays when the user's factors are
-- reset, and goes with the user.
CREATE TABLE webauthn_user_handles (
	user_id text  NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	handle  bytea NOT NULL UNIQUE
);
