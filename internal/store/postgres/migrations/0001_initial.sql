-- The tables of every store record. Times are timestamptz (microseconds); a
-- NULL time is the zero time. Durations are bigint milliseconds. Lists and
-- maps are JSONB. Every lookup the store makes has an index, and every
-- conflict the Store reports as ErrConflict is a unique constraint.

CREATE TABLE clients (
	id                   text        NOT NULL PRIMARY KEY,
	secret_hash          text        NOT NULL,
	name                 text        NOT NULL,
	type                 text        NOT NULL,
	callbacks            jsonb       NOT NULL,
	logout_urls          jsonb       NOT NULL,
	grant_types          jsonb       NOT NULL,
	first_party          boolean     NOT NULL,
	allow_offline_access boolean     NOT NULL,
	id_token_ttl_ms      bigint      NOT NULL,
	access_token_ttl_ms  bigint      NOT NULL,
	refresh_no_rotation  boolean     NOT NULL,
	refresh_overlap_ms   bigint      NOT NULL,
	refresh_idle_ms      bigint      NOT NULL,
	refresh_absolute_ms  bigint      NOT NULL,
	organization_usage    text       NOT NULL, -- '' is deny
	organization_behavior text       NOT NULL,
	initiate_login_uri    text       NOT NULL,
	created_at           timestamptz NOT NULL
);

CREATE TABLE apis (
	identifier               text        NOT NULL PRIMARY KEY,
	name                     text        NOT NULL,
	scopes                   jsonb       NOT NULL, -- [{"name": …, "description": …}]
	token_lifetime_ms        bigint      NOT NULL,
	signing_algorithm        text        NOT NULL,
	allow_offline_access     boolean     NOT NULL,
	skip_consent_first_party boolean     NOT NULL,
	created_at               timestamptz NOT NULL,
	updated_at               timestamptz NOT NULL
);

-- Sources of identities.
CREATE TABLE connections (
	name                 text        NOT NULL PRIMARY KEY,
	strategy             text        NOT NULL,
	client_id            text        NOT NULL,
	client_secret_sealed bytea       NOT NULL,
	issuer               text        NOT NULL,
	authorize_url        text        NOT NULL,
	token_url            text        NOT NULL,
	userinfo_url         text        NOT NULL,
	base_url             text        NOT NULL,
	api_url              text        NOT NULL,
	scopes               jsonb       NOT NULL,
	claim_mapping        jsonb       NOT NULL, -- {"email": "mail", …}
	created_at           timestamptz NOT NULL,
	updated_at           timestamptz NOT NULL
);

-- The clients a connection is enabled for: one row each, so that enabling
-- and disabling are single-row writes that cannot lose one another. The
-- client is not a foreign key: connections may name clients unchecked, as
-- grants and tokens do; DeleteClient removes its rows.
CREATE TABLE connection_clients (
	connection_name text NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
	client_id       text NOT NULL,
	PRIMARY KEY (connection_name, client_id)
);

CREATE INDEX connection_clients_client_id ON connection_clients (client_id);

-- The built-in username/password connection (store.DefaultDatabaseConnection)
-- that every deployment has, enabled for no client.
INSERT INTO connections (name, strategy, client_id, client_secret_sealed, issuer, authorize_url,
	token_url, userinfo_url, base_url, api_url, scopes, claim_mapping, created_at, updated_at)
VALUES ('Username-Password-Authentication', 'database', '', '', '', '', '', '', '', '', '[]', '{}', now(), now());

CREATE TABLE users (
	id             text        NOT NULL PRIMARY KEY,
	connection     text        NOT NULL,
	email          text        NOT NULL,
	email_verified boolean     NOT NULL,
	password_hash  text        NOT NULL,
	name           text        NOT NULL,
	nickname       text        NOT NULL,
	picture        text        NOT NULL,
	given_name     text        NOT NULL,
	family_name    text        NOT NULL,
	blocked        boolean     NOT NULL,
	logins_count   integer     NOT NULL,
	last_login     timestamptz,
	app_metadata   jsonb       NOT NULL,
	user_metadata  jsonb       NOT NULL,
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL
);

-- Users without an email (some social accounts) never collide.
CREATE UNIQUE INDEX users_connection_email ON users (connection, email) WHERE email <> '';

CREATE TABLE identities (
	user_id          text    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	position         integer NOT NULL, -- index in User.Identities
	connection       text    NOT NULL,
	provider         text    NOT NULL,
	provider_user_id text    NOT NULL,
	PRIMARY KEY (user_id, position)
);

-- Also serves GetUserByIdentity.
CREATE UNIQUE INDEX identities_connection_provider_user ON identities (connection, provider_user_id);

CREATE TABLE auth_requests (
	id                    text        NOT NULL PRIMARY KEY,
	client_id             text        NOT NULL,
	redirect_uri          text        NOT NULL,
	response_mode         text        NOT NULL,
	scopes                jsonb       NOT NULL,
	state                 text        NOT NULL,
	nonce                 text        NOT NULL,
	prompt                jsonb       NOT NULL,
	max_age               integer     NOT NULL,
	login_hint            text        NOT NULL,
	code_challenge        text        NOT NULL,
	code_challenge_method text        NOT NULL,
	connection            text        NOT NULL,
	audience              text        NOT NULL,
	organization          text        NOT NULL,
	invitation_hash       text        NOT NULL,
	consent_given         boolean     NOT NULL,
	denied                boolean     NOT NULL,
	upstream_connection   text        NOT NULL,
	upstream_state_hash   text        NOT NULL, -- '' once the callback is consumed
	upstream_nonce        text        NOT NULL,
	upstream_verifier     text        NOT NULL,
	error                 text        NOT NULL,
	error_description     text        NOT NULL,
	created_at            timestamptz NOT NULL,
	expires_at            timestamptz NOT NULL
);

CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at);

-- A redeemed code stays, marked used, until it expires, so that a second
-- redemption is recognised and revokes the grant.
CREATE TABLE auth_codes (
	id                    text        NOT NULL PRIMARY KEY,
	grant_id              text        NOT NULL,
	client_id             text        NOT NULL,
	user_id               text        NOT NULL,
	session_id            text        NOT NULL,
	redirect_uri          text        NOT NULL,
	scopes                jsonb       NOT NULL,
	nonce                 text        NOT NULL,
	audience              text        NOT NULL,
	organization          text        NOT NULL,
	auth_time             timestamptz NOT NULL,
	code_challenge        text        NOT NULL,
	code_challenge_method text        NOT NULL,
	created_at            timestamptz NOT NULL,
	expires_at            timestamptz NOT NULL,
	used                  boolean     NOT NULL DEFAULT false
);

CREATE INDEX auth_codes_user_id ON auth_codes (user_id);
CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);

-- Revoking an access token deletes its row.
CREATE TABLE access_tokens (
	id         text        NOT NULL PRIMARY KEY,
	grant_id   text        NOT NULL,
	client_id  text        NOT NULL,
	user_id    text        NOT NULL,
	scopes     jsonb       NOT NULL,
	audience   text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX access_tokens_grant_id ON access_tokens (grant_id);
CREATE INDEX access_tokens_user_id ON access_tokens (user_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

-- Rotated and revoked refresh tokens stay until they expire, so that reuse
-- is recognised.
CREATE TABLE refresh_tokens (
	id                text        NOT NULL PRIMARY KEY,
	family_id         text        NOT NULL,
	client_id         text        NOT NULL,
	user_id           text        NOT NULL,
	session_id        text        NOT NULL,
	scopes            jsonb       NOT NULL,
	audience          text        NOT NULL,
	organization      text        NOT NULL,
	auth_time         timestamptz NOT NULL,
	created_at        timestamptz NOT NULL,
	expires_at        timestamptz NOT NULL,
	family_expires_at timestamptz,
	used_at           timestamptz,
	overlap_used      boolean     NOT NULL,
	revoked           boolean     NOT NULL
);

CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE sessions (
	id         text        NOT NULL PRIMARY KEY,
	user_id    text        NOT NULL,
	auth_time  timestamptz NOT NULL,
	methods    jsonb       NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- The primary key's first column serves DeleteUser's lookup by user.
CREATE TABLE grants (
	user_id    text        NOT NULL,
	client_id  text        NOT NULL,
	audience   text        NOT NULL,
	scopes     jsonb       NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	PRIMARY KEY (user_id, client_id, audience)
);

-- One row per key and fixed window; expired windows go in DeleteExpired.
-- The primary key's first column serves ResetFailures.
CREATE TABLE throttle (
	throttle_key text        NOT NULL,
	window_start timestamptz NOT NULL,
	failures     integer     NOT NULL,
	expires_at   timestamptz NOT NULL,
	PRIMARY KEY (throttle_key, window_start)
);

CREATE INDEX throttle_expires_at ON throttle (expires_at);

CREATE TABLE signing_keys (
	id                text        NOT NULL PRIMARY KEY,
	algorithm         text        NOT NULL,
	state             text        NOT NULL CHECK (state IN ('next', 'current', 'previous')),
	private_encrypted bytea       NOT NULL,
	public_jwk        bytea       NOT NULL,
	created_at        timestamptz NOT NULL,
	retire_at         timestamptz
);

-- At most one current and one next key per algorithm, whatever the callers
-- do: two replicas starting a ring at once collide here.
CREATE UNIQUE INDEX signing_keys_algorithm_state ON signing_keys (algorithm, state) WHERE state <> 'previous';
CREATE INDEX signing_keys_algorithm ON signing_keys (algorithm);

-- Organizations (business customers of an application), the connections
-- enabled for each, their members and invitations. Lists read from these
-- tables are ordered with COLLATE "C": byte order, whatever the database's
-- collation.
CREATE TABLE organizations (
	id            text        NOT NULL PRIMARY KEY,
	name          text        NOT NULL UNIQUE,
	display_name  text        NOT NULL,
	logo_url      text        NOT NULL,
	primary_color text        NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);

-- One row per connection enabled for an organization, so that enabling and
-- disabling are single-row writes that cannot lose one another. Connection
-- names are not checked, as the client IDs of connection_clients are not.
CREATE TABLE org_connections (
	org_id            text    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	connection        text    NOT NULL,
	assign_membership boolean NOT NULL,
	PRIMARY KEY (org_id, connection)
);

-- Memberships go with their organization and with their user.
CREATE TABLE org_members (
	org_id  text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (org_id, user_id)
);

CREATE INDEX org_members_user_id ON org_members (user_id);

-- Invitations go with their organization. The client ID is not checked: an
-- invitation of a deleted client stays and fails when its link is followed.
-- used_by names the user who accepted, unchecked, so that deleting that
-- user does not make the invitation look unused.
CREATE TABLE invitations (
	id          text        NOT NULL PRIMARY KEY,
	ticket_hash text        NOT NULL UNIQUE,
	org_id      text        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	email       text        NOT NULL,
	client_id   text        NOT NULL,
	connection  text        NOT NULL,
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	used_at     timestamptz,
	used_by     text        NOT NULL,
	revoked     boolean     NOT NULL
);

CREATE INDEX invitations_org_id ON invitations (org_id, created_at, id COLLATE "C");
