-- Applications say how they authenticate at the token endpoint: '' is
-- client_secret_basic (every application registered before), and public
-- ones (single-page and native applications) say 'none'.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';

-- Client grants: the API and scopes an application may get access tokens
-- for without a user (client_credentials). A grant goes with its
-- application and its API.
CREATE TABLE client_grants (
	id         TEXT    NOT NULL PRIMARY KEY,
	client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	audience   TEXT    NOT NULL REFERENCES apis (identifier) ON DELETE CASCADE,
	scopes     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (client_id, audience)
) STRICT;

CREATE INDEX client_grants_audience ON client_grants (audience);
