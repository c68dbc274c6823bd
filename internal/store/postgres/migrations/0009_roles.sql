-- Roles and permissions (RBAC), and each API's RBAC setting and token
-- dialect. APIs from before this migration keep today's tokens: RBAC off,
-- and '' is the RFC 9068 dialect.
ALTER TABLE apis ADD COLUMN rbac          boolean NOT NULL DEFAULT false;
ALTER TABLE apis ADD COLUMN token_dialect text    NOT NULL DEFAULT '';

-- name_lower is the name lower-cased by Gatehouse, so that the name filter
-- compares the same way on every backend.
CREATE TABLE roles (
	id          text        NOT NULL PRIMARY KEY,
	name        text        NOT NULL UNIQUE,
	name_lower  text        NOT NULL,
	description text        NOT NULL,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);

-- A permission goes with its role and with its API. Dropping a scope from
-- an API removes it in the same transaction (UpdateAPI).
CREATE TABLE role_permissions (
	role_id    text NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
	audience   text NOT NULL REFERENCES apis (identifier) ON DELETE CASCADE,
	permission text NOT NULL,
	PRIMARY KEY (role_id, audience, permission)
);

CREATE INDEX role_permissions_audience ON role_permissions (audience, permission);

-- Roles a user holds everywhere.
CREATE TABLE user_roles (
	user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role_id text NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
	PRIMARY KEY (user_id, role_id)
);

CREATE INDEX user_roles_role_id ON user_roles (role_id, user_id);

-- Roles a member holds in an organization go with the membership: removing
-- the member, the organization or the user removes them.
CREATE TABLE org_member_roles (
	org_id  text NOT NULL,
	user_id text NOT NULL,
	role_id text NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
	PRIMARY KEY (org_id, user_id, role_id),
	FOREIGN KEY (org_id, user_id) REFERENCES org_members (org_id, user_id) ON DELETE CASCADE
);

CREATE INDEX org_member_roles_role_id ON org_member_roles (role_id);

-- Permissions given to a user directly.
CREATE TABLE user_permissions (
	user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	audience   text NOT NULL REFERENCES apis (identifier) ON DELETE CASCADE,
	permission text NOT NULL,
	PRIMARY KEY (user_id, audience, permission)
);

CREATE INDEX user_permissions_audience ON user_permissions (audience, permission);
