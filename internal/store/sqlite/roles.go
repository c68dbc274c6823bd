package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"gatehouse/internal/store"
)

const roleColumns = `id, name, description, created_at, updated_at`

const (
	qInsertRole    = `INSERT INTO roles (id, name, name_lower, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`
	qGetRole       = `SELECT ` + roleColumns + ` FROM roles WHERE id = ?`
	qGetRoleByName = `SELECT ` + roleColumns + ` FROM roles WHERE name = ?`
	// qListRoles takes the filter twice, then LIMIT (-1: none) and OFFSET.
	// The total is counted over the filtered rows before LIMIT.
	qListRoles = `SELECT ` + roleColumns + `, count(*) OVER () FROM roles
		WHERE (?1 = '' OR instr(name_lower, ?1) > 0) ORDER BY name LIMIT ?2 OFFSET ?3`
	qCountRoles = `SELECT count(*) FROM roles WHERE (?1 = '' OR instr(name_lower, ?1) > 0)`
	qUpdateRole = `UPDATE roles SET name = ?, name_lower = ?, description = ?, updated_at = ? WHERE id = ?`
	// The role's permissions and assignments go with it (ON DELETE CASCADE).
	qDeleteRole = `DELETE FROM roles WHERE id = ?`
	qRoleExists = `SELECT EXISTS (SELECT 1 FROM roles WHERE id = ?)`

	qAddRolePermission    = `INSERT INTO role_permissions (role_id, audience, permission) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	qRemoveRolePermission = `DELETE FROM role_permissions WHERE role_id = ? AND audience = ? AND permission = ?`
	qListRolePermissions  = `SELECT audience, permission FROM role_permissions WHERE role_id = ? ORDER BY audience, permission`

	qAssignUserRole   = `INSERT INTO user_roles (user_id, role_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qUnassignUserRole = `DELETE FROM user_roles WHERE user_id = ? AND role_id = ?`
	qAssignOrgRole    = `INSERT INTO org_member_roles (org_id, user_id, role_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	qUnassignOrgRole  = `DELETE FROM org_member_roles WHERE org_id = ? AND user_id = ? AND role_id = ?`
	qUserRoles        = `SELECT r.id, r.name, r.description, r.created_at, r.updated_at
		FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = ? ORDER BY r.name`
	qOrgMemberRoles = `SELECT r.id, r.name, r.description, r.created_at, r.updated_at
		FROM org_member_roles omr JOIN roles r ON r.id = omr.role_id
		WHERE omr.user_id = ? AND omr.org_id = ? ORDER BY r.name`
	qListRoleUsers = `SELECT user_id FROM user_roles WHERE role_id = ? AND user_id > ?
		ORDER BY user_id LIMIT ? OFFSET ?`
	qCountRoleUsers = `SELECT count(*) FROM user_roles WHERE role_id = ?`

	qAddUserPermission    = `INSERT INTO user_permissions (user_id, audience, permission) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
	qRemoveUserPermission = `DELETE FROM user_permissions WHERE user_id = ? AND audience = ? AND permission = ?`
	qUserPermissions      = `SELECT audience, permission FROM user_permissions WHERE user_id = ? ORDER BY audience, permission`

	// qEffectivePermissions takes the user, the organization ('' for none)
	// and the audience. UNION removes duplicates; the rows come sorted.
	qEffectivePermissions = `SELECT permission FROM user_permissions WHERE user_id = ?1 AND audience = ?3
		UNION
		SELECT rp.permission FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
		WHERE ur.user_id = ?1 AND rp.audience = ?3
		UNION
		SELECT rp.permission FROM org_member_roles omr JOIN role_permissions rp ON rp.role_id = omr.role_id
		WHERE ?2 <> '' AND omr.org_id = ?2 AND omr.user_id = ?1 AND rp.audience = ?3
		ORDER BY 1`
)

func scanRole(sc scanner, extra ...any) (store.Role, error) {
	var r store.Role
	dest := append([]any{&r.ID, &r.Name, &r.Description, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}}, extra...)
	return r, sc.Scan(dest...)
}

func scanRoles(rows *sql.Rows) ([]store.Role, error) {
	defer rows.Close()
	var rs []store.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

func scanPermissions(rows *sql.Rows) ([]store.Permission, error) {
	defer rows.Close()
	var ps []store.Permission
	for rows.Next() {
		var p store.Permission
		if err := rows.Scan(&p.Audience, &p.Name); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// limitArg is LIMIT's argument for limit: -1, no limit, for 0.
func limitArg(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// CreateRole stores r; ErrConflict when its ID or name is taken.
func (db *DB) CreateRole(ctx context.Context, r store.Role) error {
	_, err := db.exec(ctx, qInsertRole, r.ID, r.Name, strings.ToLower(r.Name), r.Description, millis(r.CreatedAt), millis(r.UpdatedAt))
	return fail("create role", err)
}

// GetRole returns the role with the ID; ErrNotFound.
func (db *DB) GetRole(ctx context.Context, id string) (store.Role, error) {
	r, err := scanRole(db.queryRow(ctx, qGetRole, id))
	if err != nil {
		return store.Role{}, fail("get role", err)
	}
	return r, nil
}

// GetRoleByName returns the role with the name; ErrNotFound.
func (db *DB) GetRoleByName(ctx context.Context, name string) (store.Role, error) {
	r, err := scanRole(db.queryRow(ctx, qGetRoleByName, name))
	if err != nil {
		return store.Role{}, fail("get role by name", err)
	}
	return r, nil
}

// ListRoles returns the page of roles the filter selects, by name, and
// how many it selects.
func (db *DB) ListRoles(ctx context.Context, f store.RoleFilter) ([]store.Role, int, error) {
	filter := strings.ToLower(f.NameContains)
	rows, err := db.query(ctx, qListRoles, filter, limitArg(f.Limit), max(f.Offset, 0))
	if err != nil {
		return nil, 0, fail("list roles", err)
	}
	defer rows.Close()
	var rs []store.Role
	total := 0
	for rows.Next() {
		r, err := scanRole(rows, &total)
		if err != nil {
			return nil, 0, fail("list roles", err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fail("list roles", err)
	}
	if len(rs) == 0 {
		// A page past the end has no row to carry the total.
		if err := db.queryRow(ctx, qCountRoles, filter).Scan(&total); err != nil {
			return nil, 0, fail("count roles", err)
		}
	}
	return rs, total, nil
}

// UpdateRole replaces the role's name, description and UpdatedAt;
// ErrNotFound, ErrConflict on a taken name.
func (db *DB) UpdateRole(ctx context.Context, r store.Role) error {
	return fail("update role", changed(db.exec(ctx, qUpdateRole, r.Name, strings.ToLower(r.Name), r.Description, millis(r.UpdatedAt), r.ID)))
}

// DeleteRole removes the role with its permissions and assignments;
// ErrNotFound.
func (db *DB) DeleteRole(ctx context.Context, id string) error {
	return fail("delete role", changed(db.exec(ctx, qDeleteRole, id)))
}

// exists fails with ErrNotFound, naming the record, unless q finds key.
func exists(ctx context.Context, t tx, q, kind, key string) error {
	var ok bool
	if err := t.queryRow(ctx, q, key).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %q: %w", kind, key, store.ErrNotFound)
	}
	return nil
}

// changePermissions runs q for each permission of the holder (a role or a
// user) that owner finds, in one transaction; with checkAPIs, each API
// must exist.
func (db *DB) changePermissions(ctx context.Context, ownerQ, kind, owner, q string, ps []store.Permission, checkAPIs bool) error {
	return db.inTx(ctx, func(t tx) error {
		if err := exists(ctx, t, ownerQ, kind, owner); err != nil {
			return err
		}
		for _, p := range ps {
			if checkAPIs {
				if err := exists(ctx, t, qAPIExists, "api", p.Audience); err != nil {
					return err
				}
			}
			if _, err := t.exec(ctx, q, owner, p.Audience, p.Name); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddRolePermissions gives the role the permissions, atomically;
// ErrNotFound for an unknown role or API.
func (db *DB) AddRolePermissions(ctx context.Context, roleID string, ps []store.Permission) error {
	return fail("add role permissions", db.changePermissions(ctx, qRoleExists, "role", roleID, qAddRolePermission, ps, true))
}

// RemoveRolePermissions takes the permissions from the role; ErrNotFound
// for an unknown role.
func (db *DB) RemoveRolePermissions(ctx context.Context, roleID string, ps []store.Permission) error {
	return fail("remove role permissions", db.changePermissions(ctx, qRoleExists, "role", roleID, qRemoveRolePermission, ps, false))
}

// ListRolePermissions returns the role's permissions by audience, then
// name; ErrNotFound for an unknown role.
func (db *DB) ListRolePermissions(ctx context.Context, roleID string) ([]store.Permission, error) {
	var ps []store.Permission
	err := db.readTx(ctx, func(t *sql.Tx) error {
		var ok bool
		if err := t.QueryRowContext(ctx, qRoleExists, roleID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("role %q: %w", roleID, store.ErrNotFound)
		}
		rows, err := t.QueryContext(ctx, qListRolePermissions, roleID)
		if err != nil {
			return err
		}
		ps, err = scanPermissions(rows)
		return err
	})
	if err != nil {
		return nil, fail("list role permissions", err)
	}
	return ps, nil
}

// AssignRoles stores the assignments atomically; ErrNotFound for an
// unknown user or role, or a user who is not a member of the organization.
func (db *DB) AssignRoles(ctx context.Context, as []store.RoleAssignment) error {
	err := db.inTx(ctx, func(t tx) error {
		for _, a := range as {
			if err := exists(ctx, t, qUserExists, "user", a.UserID); err != nil {
				return err
			}
			if err := exists(ctx, t, qRoleExists, "role", a.RoleID); err != nil {
				return err
			}
			if a.OrgID == "" {
				if _, err := t.exec(ctx, qAssignUserRole, a.UserID, a.RoleID); err != nil {
					return err
				}
				continue
			}
			var member bool
			if err := t.queryRow(ctx, qIsMember, a.OrgID, a.UserID).Scan(&member); err != nil {
				return err
			}
			if !member {
				return fmt.Errorf("user %q in organization %q: %w", a.UserID, a.OrgID, store.ErrNotFound)
			}
			if _, err := t.exec(ctx, qAssignOrgRole, a.OrgID, a.UserID, a.RoleID); err != nil {
				return err
			}
		}
		return nil
	})
	return fail("assign roles", err)
}

// UnassignRoles removes the assignments; missing ones are no error.
func (db *DB) UnassignRoles(ctx context.Context, as []store.RoleAssignment) error {
	err := db.inTx(ctx, func(t tx) error {
		for _, a := range as {
			var err error
			if a.OrgID == "" {
				_, err = t.exec(ctx, qUnassignUserRole, a.UserID, a.RoleID)
			} else {
				_, err = t.exec(ctx, qUnassignOrgRole, a.OrgID, a.UserID, a.RoleID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return fail("unassign roles", err)
}

// UserRoles returns the roles the user holds everywhere (orgID "") or in
// the organization, by name.
func (db *DB) UserRoles(ctx context.Context, userID, orgID string) ([]store.Role, error) {
	var rows *sql.Rows
	var err error
	if orgID == "" {
		rows, err = db.query(ctx, qUserRoles, userID)
	} else {
		rows, err = db.query(ctx, qOrgMemberRoles, userID, orgID)
	}
	if err != nil {
		return nil, fail("user roles", err)
	}
	rs, err := scanRoles(rows)
	if err != nil {
		return nil, fail("user roles", err)
	}
	return rs, nil
}

// ListRoleUsers returns a page of the IDs of the role's users and how many
// it has; ErrNotFound for an unknown role.
func (db *DB) ListRoleUsers(ctx context.Context, roleID, after string, offset, limit int) ([]string, int, error) {
	var ids []string
	var total int
	err := db.readTx(ctx, func(t *sql.Tx) error {
		var ok bool
		if err := t.QueryRowContext(ctx, qRoleExists, roleID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("role %q: %w", roleID, store.ErrNotFound)
		}
		if err := t.QueryRowContext(ctx, qCountRoleUsers, roleID).Scan(&total); err != nil {
			return err
		}
		rows, err := t.QueryContext(ctx, qListRoleUsers, roleID, after, limitArg(limit), max(offset, 0))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fail("list role users", err)
	}
	return ids, total, nil
}

// AddUserPermissions gives the user the permissions directly,
// atomically; ErrNotFound for an unknown user or API.
func (db *DB) AddUserPermissions(ctx context.Context, userID string, ps []store.Permission) error {
	return fail("add user permissions", db.changePermissions(ctx, qUserExists, "user", userID, qAddUserPermission, ps, true))
}

// RemoveUserPermissions takes the direct permissions from the user;
// ErrNotFound for an unknown user.
func (db *DB) RemoveUserPermissions(ctx context.Context, userID string, ps []store.Permission) error {
	return fail("remove user permissions", db.changePermissions(ctx, qUserExists, "user", userID, qRemoveUserPermission, ps, false))
}

// UserPermissions returns the permissions given to the user directly.
func (db *DB) UserPermissions(ctx context.Context, userID string) ([]store.Permission, error) {
	rows, err := db.query(ctx, qUserPermissions, userID)
	if err != nil {
		return nil, fail("user permissions", err)
	}
	ps, err := scanPermissions(rows)
	if err != nil {
		return nil, fail("user permissions", err)
	}
	return ps, nil
}

// EffectivePermissions returns the names of the user's permissions for the
// audience: direct, from roles held everywhere and, with orgID, from roles
// held in the organization.
func (db *DB) EffectivePermissions(ctx context.Context, userID, orgID, audience string) ([]string, error) {
	rows, err := db.query(ctx, qEffectivePermissions, userID, orgID, audience)
	if err != nil {
		return nil, fail("effective permissions", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fail("effective permissions", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("effective permissions", err)
	}
	return names, nil
}

// readTx runs fn in one read transaction of the read pool, so that its
// statements see one snapshot.
func (db *DB) readTx(ctx context.Context, fn func(t *sql.Tx) error) error {
	ctx = uncancelled(ctx)
	t, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = t.Rollback() }()
	return fn(t)
}
