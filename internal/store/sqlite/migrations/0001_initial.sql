-- The tables of every store record. Times are INTEGER Unix milliseconds in
-- UTC; a NULL time is the zero time. Lists and maps are JSON text.

CREATE TABLE clients (
	id                   TEXT    NOT NULL PRIMARY KEY,
	secret_hash          TEXT    NOT NULL,
	name                 TEXT    NOT NULL,
	type                 TEXT    NOT NULL,
	callbacks            TEXT    NOT NULL,
	logout_urls          TEXT    NOT NULL,
	grant_types          TEXT    NOT NULL,
	first_party          INTEGER NOT NULL,
	allow_offline_access INTEGER NOT NULL,
	created_at           INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	id             TEXT    NOT NULL PRIMARY KEY,
	connection     TEXT    NOT NULL,
	email          TEXT    NOT NULL,
	email_verified INTEGER NOT NULL,
	password_hash  TEXT    NOT NULL,
	name           TEXT    NOT NULL,
	nickname       TEXT    NOT NULL,
	picture        TEXT    NOT NULL,
	given_name     TEXT    NOT NULL,
	family_name    TEXT    NOT NULL,
	blocked        INTEGER NOT NULL,
	logins_count   INTEGER NOT NULL,
	last_login     INTEGER,
	app_metadata   TEXT    NOT NULL,
	user_metadata  TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;

-- Users without an email (some social accounts) never collide.
CREATE UNIQUE INDEX users_connection_email ON users (connection, email) WHERE email <> '';

CREATE TABLE identities (
	user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	position         INTEGER NOT NULL, -- index in User.Identities
	connection       TEXT    NOT NULL,
	provider         TEXT    NOT NULL,
	provider_user_id TEXT    NOT NULL,
	PRIMARY KEY (user_id, position)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX identities_connection_provider_user ON identities (connection, provider_user_id);

CREATE TABLE auth_requests (
	id                    TEXT    NOT NULL PRIMARY KEY,
	client_id             TEXT    NOT NULL,
	redirect_uri          TEXT    NOT NULL,
	response_mode         TEXT    NOT NULL,
	scopes                TEXT    NOT NULL,
	state                 TEXT    NOT NULL,
	nonce                 TEXT    NOT NULL,
	prompt                TEXT    NOT NULL,
	max_age               INTEGER NOT NULL,
	login_hint            TEXT    NOT NULL,
	code_challenge        TEXT    NOT NULL,
	code_challenge_method TEXT    NOT NULL,
	connection            TEXT    NOT NULL,
	audience              TEXT    NOT NULL,
	consent_given         INTEGER NOT NULL,
	denied                INTEGER NOT NULL,
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL
) STRICT;

CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

-- A redeemed code stays, marked used, until it expires, so that a second
-- redemption is recognised and revokes the grant.
CREATE TABLE auth_codes (
	id                    TEXT    NOT NULL PRIMARY KEY,
	grant_id              TEXT    NOT NULL,
	client_id             TEXT    NOT NULL,
	user_id               TEXT    NOT NULL,
	session_id            TEXT    NOT NULL,
	redirect_uri          TEXT    NOT NULL,
	scopes                TEXT    NOT NULL,
	nonce                 TEXT    NOT NULL,
	audience              TEXT    NOT NULL,
	auth_time             INTEGER NOT NULL,
	code_challenge        TEXT    NOT NULL,
	code_challenge_method TEXT    NOT NULL,
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	used                  INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX auth_codes_user_id ON auth_codes (user_id);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

-- Revoking an access token deletes its row.
CREATE TABLE access_tokens (
	id         TEXT    NOT NULL PRIMARY KEY,
	grant_id   TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	audience   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id);
CREATE INDEX access_tokens_user_id ON access_tokens (user_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- Rotated and revoked refresh tokens stay until they expire, so that reuse
-- is recognised.
CREATE TABLE refresh_tokens (
	id         TEXT    NOT NULL PRIMARY KEY,
	family_id  TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	session_id TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	audience   TEXT    NOT NULL,
	auth_time  INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	revoked    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE sessions (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	auth_time  INTEGER NOT NULL,
	methods    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE grants (
	user_id    TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	audience   TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, client_id, audience)
) STRICT, WITHOUT ROWID;

-- One row per key and fixed window; expired windows go in DeleteExpired.
CREATE TABLE throttle (
	throttle_key TEXT    NOT NULL,
	window_start INTEGER NOT NULL,
	failures     INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	PRIMARY KEY (throttle_key, window_start)
) STRICT, WITHOUT ROWID;

CREATE INDEX throttle_expires_at ON throttle (expires_at);

CREATE TABLE signing_keys (
	id                TEXT    NOT NULL PRIMARY KEY,
	algorithm         TEXT    NOT NULL,
	state             TEXT    NOT NULL CHECK (state IN ('next', 'current', 'previous')),
	private_encrypted BLOB    NOT NULL,
	public_jwk        BLOB    NOT NULL,
	created_at        INTEGER NOT NULL,
	retire_at         INTEGER
) STRICT;

-- At most one current and one next key, whatever the callers do.
CREATE UNIQUE INDEX signing_keys_state ON signing_keys (state) WHERE state <> 'previous';
