-- An application's second-factor policy: never, optional or always; ''
-- inherits the server's mfa.policy.
ALTER TABLE clients ADD COLUMN mfa_policy text NOT NULL DEFAULT '';

-- WebAuthn ceremonies in progress, each taken once by the post that
-- answers it; id is the hash of the browser's cookie.
CREATE TABLE webauthn_ceremonies (
	id         text        NOT NULL PRIMARY KEY,
	data       bytea       NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
