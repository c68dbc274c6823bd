-- What the management API reads and writes of organizations, invitations,
-- tickets and signing keys beyond what the command line did.

-- An organization's page background color ('' for none) and the
-- operator's own key-value data about it.
ALTER TABLE organizations ADD COLUMN page_background TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN metadata        TEXT NOT NULL DEFAULT '{}'; -- JSON {"key": "value"}

-- The name of who sent an invitation ('' for invitations from before).
ALTER TABLE invitations ADD COLUMN inviter TEXT NOT NULL DEFAULT '';

-- A password-reset ticket handed out by an administrator leaves the email
-- unverified when used; mailed tickets (all those from before) verify it.
ALTER TABLE tickets ADD COLUMN keep_email_unverified INTEGER NOT NULL DEFAULT 0;

-- When a previous signing key was revoked; NULL if it never was.
ALTER TABLE signing_keys ADD COLUMN revoked_at INTEGER;
