-- Connections (sources of identities), the clients each is enabled for, and
-- the upstream-login state of authorization requests.

-- A connection without an upstream secret has NULL client_secret_sealed.
CREATE TABLE connections (
	name                 TEXT    NOT NULL PRIMARY KEY,
	strategy             TEXT    NOT NULL,
	client_id            TEXT    NOT NULL,
	client_secret_sealed BLOB,
	issuer               TEXT    NOT NULL,
	authorize_url        TEXT    NOT NULL,
	token_url            TEXT    NOT NULL,
	userinfo_url         TEXT    NOT NULL,
	base_url             TEXT    NOT NULL,
	api_url              TEXT    NOT NULL,
	scopes               TEXT    NOT NULL, -- JSON ["openid", …]
	claim_mapping        TEXT    NOT NULL, -- JSON {"email": "mail", …}
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL
) STRICT;

-- One row per client a connection is enabled for, so that enabling and
-- disabling are one INSERT or DELETE each and concurrent changes for
-- different clients never overwrite each other. Client ids are not checked
-- against clients, like those of grants and tokens; DeleteClient removes
-- its rows.
CREATE TABLE connection_clients (
	connection TEXT NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
	client_id  TEXT NOT NULL,
	PRIMARY KEY (connection, client_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX connection_clients_client_id ON connection_clients (client_id);

-- The built-in username/password connection, enabled for every client that
-- exists, so that deployments from before connections keep logging in.
INSERT INTO connections (name, strategy, client_id, client_secret_sealed, issuer, authorize_url,
	token_url, userinfo_url, base_url, api_url, scopes, claim_mapping, created_at, updated_at)
VALUES ('Username-Password-Authentication', 'database', '', NULL, '', '', '', '', '', '', '[]', '{}',
	CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER));

INSERT INTO connection_clients (connection, client_id)
SELECT 'Username-Password-Authentication', id FROM clients;

-- Requests from before this migration have no upstream login and no error.
ALTER TABLE auth_requests ADD COLUMN upstream_connection TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN upstream_state_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN upstream_nonce      TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN upstream_verifier   TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN error               TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN error_description   TEXT NOT NULL DEFAULT '';
