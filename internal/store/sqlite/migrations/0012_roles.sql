-- Roles and permissions (RBAC), and each API's RBAC setting and token
-- dialect. APIs from before this migration keep today's tokens: RBAC off,
-- and '' is the RFC 9068 dialect.
ALTER TABLE apis ADD COLUMN rbac          INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apis ADD COLUMN token_dialect TEXT    NOT NULL DEFAULT '';

-- name_lower is the name lower-cased by Gatehouse, so that the name filter
-- compares the same way on every backend.
CREATE TABLE roles (
	id          TEXT    NOT NULL PRIMARY KEY,
	name        TEXT    NOT NULL UNIQUE,
	name_lower  TEXT    NOT NULL,
	description TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT;

-- A permission goes with its role and with its API. Dropping a scope from
-- an API removes it in the same transaction (UpdateAPI).
CREATE TABLE role_permissions (
	role_id    TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
	audience   TEXT NOT NULL REFERENCES apis (identifier) ON DELETE CASCADE,
	permission TEXT NOT NULL,
	PRIMARY KEY (role_id, audience, permission)
) STRICT, WITHOUT ROWID;

CREATE INDEX role_permissions_audience ON role_permissions (audience, permission);

-- Roles a user holds everywhere.
CREATE TABLE user_roles (
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
	PRIMARY KEY (user_id, role_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX user_roles_role_id ON user_roles (role_id, user_id);

-- Roles a member holds in an organization go with the membership: removing
-- the member, the organization or the user removes them.
CREATE TABLE org_member_roles (
	org_id  TEXT NOT NULL,
	user_id TEXT NOT NULL,
	role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
	PRIMARY KEY (org_id, user_id, role_id),
	FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX org_member_roles_role_id ON org_member_roles (role_id);

-- Permissions given to a user directly.
CREATE TABLE user_permissions (
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	audience   TEXT NOT NULL REFERENCES apis (identifier) ON DELETE CASCADE,
	permission TEXT NOT NULL,
	PRIMARY KEY (user_id, audience, permission)
) STRICT, WITHOUT ROWID;

CREATE INDEX user_permissions_audience ON user_permissions (audience, permission);
