-- An application's second-factor policy: never, optional or always; ''
-- inherits the server's mfa.policy.
ALTER TABLE clients ADD COLUMN mfa_policy TEXT NOT NULL DEFAULT '';

-- WebAuthn ceremonies in progress, each taken once by the post that
-- answers it; id is the hash of the browser's cookie.
CREATE TABLE webauthn_ceremonies (
	id         TEXT    NOT NULL PRIMARY KEY,
	data       BLOB    NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
