-- Applications say how they authenticate at the token endpoint: '' is
-- client_secret_basic (every application registered before), and public
-- ones (single-page and native applications) say 'none'.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method text NOT NULL DEFAULT '';

-- Client grants: the API and scopes an application may get access tokens
-- for without a user (client_credentials). A grant goes with its
-- application and its API.
CREATE TABLE client_grants (
	id         text        NOT NULL PRIMARY KEY,
	client_id  text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	audience   text        NOT NULL REFERENCES apis (identifier) ON DELETE CASCADE,
	scopes     jsonb       NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	UNIQUE (client_id, audience)
);

CREATE INDEX client_grants_audience ON client_grants (audience);
