-- Application types: browser origins of single-page apps, PKCE for
-- confidential apps (off for the apps that exist, so nothing breaks on
-- upgrade; the management layer turns it on for new ones), the ID token
-- signing algorithm, and the JWK Set of private_key_jwt clients.
ALTER TABLE clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN require_pkce INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';

-- The jti of each private_key_jwt client assertion, kept until the
-- assertion expires so that it is accepted once (RFC 7523 §3).
CREATE TABLE client_assertions (
	client_id  TEXT    NOT NULL,
	jti        TEXT    NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_expires ON client_assertions (expires_at);
