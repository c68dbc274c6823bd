-- Organizations (business customers of an application), the connections
-- enabled for each, their members and invitations, and the organization of
-- clients, authorization requests, codes and refresh tokens.

CREATE TABLE organizations (
	id            TEXT    NOT NULL PRIMARY KEY,
	name          TEXT    NOT NULL UNIQUE,
	display_name  TEXT    NOT NULL,
	logo_url      TEXT    NOT NULL,
	primary_color TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) STRICT;

-- One row per connection enabled for an organization, so that enabling and
-- disabling are one statement each and concurrent changes for different
-- connections never overwrite each other. Connection names are not checked
-- against connections, like the client ids of connection_clients.
CREATE TABLE org_connections (
	org_id            TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	connection        TEXT    NOT NULL,
	assign_membership INTEGER NOT NULL,
	PRIMARY KEY (org_id, connection)
) STRICT, WITHOUT ROWID;

-- Memberships go with their organization and with their user.
CREATE TABLE org_members (
	org_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (org_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX org_members_user_id ON org_members (user_id);

-- Invitations go with their organization. The client id is not checked
-- against clients: an invitation of a deleted client stays and fails when
-- its link is followed. used_by names the user who accepted, unchecked, so
-- that deleting that user does not make the invitation look unused.
CREATE TABLE invitations (
	id          TEXT    NOT NULL PRIMARY KEY,
	ticket_hash TEXT    NOT NULL UNIQUE,
	org_id      TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	email       TEXT    NOT NULL,
	client_id   TEXT    NOT NULL,
	connection  TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER,
	used_by     TEXT    NOT NULL,
	revoked     INTEGER NOT NULL
) STRICT;

CREATE INDEX invitations_org_id ON invitations (org_id, created_at, id);

-- Rows from before this migration are outside any organization: '' is
-- usage deny and no organization.
ALTER TABLE clients ADD COLUMN organization_usage    TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN organization_behavior TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN initiate_login_uri    TEXT NOT NULL DEFAULT '';

ALTER TABLE auth_requests ADD COLUMN organization    TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_requests ADD COLUMN invitation_hash TEXT NOT NULL DEFAULT '';

ALTER TABLE auth_codes ADD COLUMN organization TEXT NOT NULL DEFAULT '';

ALTER TABLE refresh_tokens ADD COLUMN organization TEXT NOT NULL DEFAULT '';
