package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const roleColumns = `id, name, description, created_at, updated_at`

const (
	qInsertRole = `INSERT INTO roles (id, name, name_lower, description, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)`
	qSelectRole = `SELECT ` + roleColumns + ` FROM roles`
	// qListRoles counts the filtered rows before LIMIT (NULL: none).
	qListRoles = `SELECT ` + roleColumns + `, count(*) OVER () FROM roles
		WHERE ($1 = '' OR strpos(name_lower, $1) > 0)
		ORDER BY name COLLATE "C" LIMIT $2 OFFSET $3`
	qCountRoles = `SELECT count(*) FROM roles WHERE ($1 = '' OR strpos(name_lower, $1) > 0)`

	// qLockRole, qLockUser and qLockAPI find a row and hold it against
	// deletion until the transaction ends, so that what is added for it
	// cannot outlive it.
	qLockRole   = `SELECT EXISTS (SELECT 1 FROM roles WHERE id = $1 FOR KEY SHARE)`
	qLockUser   = `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE)`
	qLockAPI    = `SELECT EXISTS (SELECT 1 FROM apis WHERE identifier = $1 FOR KEY SHARE)`
	qLockMember = `SELECT EXISTS (SELECT 1 FROM org_members WHERE org_id = $1 AND user_id = $2 FOR KEY SHARE)`

	qAddRolePermission    = `INSERT INTO role_permissions (role_id, audience, permission) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
	qRemoveRolePermission = `DELETE FROM role_permissions WHERE role_id = $1 AND audience = $2 AND permission = $3`
	qAddUserPermission    = `INSERT INTO user_permissions (user_id, audience, permission) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
	qRemoveUserPermission = `DELETE FROM user_permissions WHERE user_id = $1 AND audience = $2 AND permission = $3`

	qUserRoles = `SELECT r.id, r.name, r.description, r.created_at, r.updated_at
		FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1
		ORDER BY r.name COLLATE "C"`
	qOrgMemberRoles = `SELECT r.id, r.name, r.description, r.created_at, r.updated_at
		FROM org_member_roles omr JOIN roles r ON r.id = omr.role_id
		WHERE omr.user_id = $1 AND omr.org_id = $2 ORDER BY r.name COLLATE "C"`

	// qListRoleUsers reads the role's existence, its users' count and a
	// page of them from one snapshot: a role without users gives one row
	// with a NULL user, an unknown role none.
	qListRoleUsers = `SELECT (SELECT count(*) FROM user_roles WHERE role_id = r.id), page.user_id
		FROM roles r LEFT JOIN LATERAL (
			SELECT user_id FROM user_roles WHERE role_id = r.id AND user_id COLLATE "C" > $2
			ORDER BY user_id COLLATE "C" LIMIT $3 OFFSET $4
		) page ON true
		WHERE r.id = $1`

	// qRolePermissions is like qListRoleUsers: one row with NULLs for a
	// role without permissions, none for an unknown role.
	qRolePermissions = `SELECT rp.audience, rp.permission FROM roles r
		LEFT JOIN role_permissions rp ON rp.role_id = r.id
		WHERE r.id = $1 ORDER BY rp.audience COLLATE "C", rp.permission COLLATE "C"`

	qUserPermissions = `SELECT audience, permission FROM user_permissions WHERE user_id = $1
		ORDER BY audience COLLATE "C", permission COLLATE "C"`

	qEffectivePermissions = `SELECT p FROM (
			SELECT permission FROM user_permissions WHERE user_id = $1 AND audience = $3
			UNION
			SELECT rp.permission FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id
			WHERE ur.user_id = $1 AND rp.audience = $3
			UNION
			SELECT rp.permission FROM org_member_roles omr JOIN role_permissions rp ON rp.role_id = omr.role_id
			WHERE $2 <> '' AND omr.org_id = $2 AND omr.user_id = $1 AND rp.audience = $3
		) u (p) ORDER BY p COLLATE "C"`
)

func scanRole(row pgx.CollectableRow) (store.Role, error) {
	var r store.Role
	err := row.Scan(&r.ID, &r.Name, &r.Description, &r.CreatedAt, &r.UpdatedAt)
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	return r, err
}

func scanPermission(row pgx.CollectableRow) (store.Permission, error) {
	var p store.Permission
	err := row.Scan(&p.Audience, &p.Name)
	return p, err
}

// limitArg is LIMIT's argument for limit: NULL, no limit, for 0.
func limitArg(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}

// CreateRole stores r; ErrConflict when its ID or name is taken.
func (db *DB) CreateRole(ctx context.Context, r store.Role) error {
	_, err := db.exec(ctx, qInsertRole, r.ID, r.Name, strings.ToLower(r.Name), r.Description, r.CreatedAt, r.UpdatedAt)
	return fail("create role", err)
}

// GetRole returns the role with the ID; ErrNotFound.
func (db *DB) GetRole(ctx context.Context, id string) (store.Role, error) {
	r, err := queryOne(ctx, db.pool, scanRole, qSelectRole+` WHERE id = $1`, id)
	if err != nil {
		return store.Role{}, fail("get role", err)
	}
	return r, nil
}

// GetRoleByName returns the role with the name; ErrNotFound.
func (db *DB) GetRoleByName(ctx context.Context, name string) (store.Role, error) {
	r, err := queryOne(ctx, db.pool, scanRole, qSelectRole+` WHERE name = $1`, name)
	if err != nil {
		return store.Role{}, fail("get role by name", err)
	}
	return r, nil
}

// ListRoles returns the page of roles the filter selects, by name in byte
// order, and how many it selects.
func (db *DB) ListRoles(ctx context.Context, f store.RoleFilter) ([]store.Role, int, error) {
	filter := strings.ToLower(f.NameContains)
	var total int64
	rs, err := queryAll(ctx, db.pool, func(row pgx.CollectableRow) (store.Role, error) {
		var r store.Role
		err := row.Scan(&r.ID, &r.Name, &r.Description, &r.CreatedAt, &r.UpdatedAt, &total)
		r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
		return r, err
	}, qListRoles, filter, limitArg(f.Limit), max(f.Offset, 0))
	if err != nil {
		return nil, 0, fail("list roles", err)
	}
	if len(rs) == 0 {
		// A page past the end has no row to carry the total.
		if err := db.pool.QueryRow(ctx, qCountRoles, filter).Scan(&total); err != nil {
			return nil, 0, fail("count roles", err)
		}
	}
	return rs, int(total), nil
}

// UpdateRole replaces the role's name, description and UpdatedAt;
// ErrNotFound, ErrConflict on a taken name.
func (db *DB) UpdateRole(ctx context.Context, r store.Role) error {
	return fail("update role", changed(db.exec(ctx,
		`UPDATE roles SET name = $2, name_lower = $3, description = $4, updated_at = $5 WHERE id = $1`,
		r.ID, r.Name, strings.ToLower(r.Name), r.Description, r.UpdatedAt)))
}

// DeleteRole removes the role with its permissions and assignments (ON
// DELETE CASCADE); ErrNotFound.
func (db *DB) DeleteRole(ctx context.Context, id string) error {
	return fail("delete role", changed(db.exec(ctx, `DELETE FROM roles WHERE id = $1`, id)))
}

// lock fails with ErrNotFound, naming the record, unless q finds the row;
// the row is then held against deletion until tx ends.
func lock(ctx context.Context, tx pgx.Tx, q, kind string, keys ...string) error {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	var ok bool
	if err := tx.QueryRow(ctx, q, args...).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %q: %w", kind, strings.Join(keys, " "), store.ErrNotFound)
	}
	return nil
}

// changePermissions runs q for each permission of the holder (a role or a
// user) that lockOwner finds, in one transaction; with checkAPIs, each API
// must exist.
func (db *DB) changePermissions(ctx context.Context, lockOwner, kind, owner, q string, ps []store.Permission, checkAPIs bool) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, lockOwner, kind, owner); err != nil {
			return err
		}
		for _, p := range ps {
			if checkAPIs {
				if err := lock(ctx, tx, qLockAPI, "api", p.Audience); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, q, owner, p.Audience, p.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if isForeignKeyViolation(err) {
		err = fmt.Errorf("%s %q or an api deleted meanwhile: %w", kind, owner, store.ErrNotFound)
	}
	return err
}

// AddRolePermissions gives the role the permissions, atomically;
// ErrNotFound for an unknown role or API.
func (db *DB) AddRolePermissions(ctx context.Context, roleID string, ps []store.Permission) error {
	return fail("add role permissions", db.changePermissions(ctx, qLockRole, "role", roleID, qAddRolePermission, ps, true))
}

// RemoveRolePermissions takes the permissions from the role; ErrNotFound
// for an unknown role.
func (db *DB) RemoveRolePermissions(ctx context.Context, roleID string, ps []store.Permission) error {
	return fail("remove role permissions", db.changePermissions(ctx, qLockRole, "role", roleID, qRemoveRolePermission, ps, false))
}

// ListRolePermissions returns the role's permissions by audience, then
// name, in byte order; ErrNotFound for an unknown role.
func (db *DB) ListRolePermissions(ctx context.Context, roleID string) ([]store.Permission, error) {
	rows, err := queryAll(ctx, db.pool, func(row pgx.CollectableRow) (*store.Permission, error) {
		var aud, name *string
		if err := row.Scan(&aud, &name); err != nil || aud == nil {
			return nil, err
		}
		return &store.Permission{Audience: *aud, Name: *name}, nil
	}, qRolePermissions, roleID)
	if err != nil {
		return nil, fail("list role permissions", err)
	}
	if len(rows) == 0 {
		return nil, fail("list role permissions", fmt.Errorf("role %q: %w", roleID, store.ErrNotFound))
	}
	var ps []store.Permission
	for _, p := range rows {
		if p != nil {
			ps = append(ps, *p)
		}
	}
	return ps, nil
}

// AssignRoles stores the assignments atomically; ErrNotFound for an
// unknown user or role, or a user who is not a member of the organization.
func (db *DB) AssignRoles(ctx context.Context, as []store.RoleAssignment) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		for _, a := range as {
			if err := lock(ctx, tx, qLockUser, "user", a.UserID); err != nil {
				return err
			}
			if err := lock(ctx, tx, qLockRole, "role", a.RoleID); err != nil {
				return err
			}
			var err error
			if a.OrgID == "" {
				_, err = tx.Exec(ctx, `INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
					a.UserID, a.RoleID)
			} else {
				if err := lock(ctx, tx, qLockMember, "member", a.OrgID, a.UserID); err != nil {
					return err
				}
				_, err = tx.Exec(ctx, `INSERT INTO org_member_roles (org_id, user_id, role_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
					a.OrgID, a.UserID, a.RoleID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if isForeignKeyViolation(err) {
		err = fmt.Errorf("a user, role or membership deleted meanwhile: %w", store.ErrNotFound)
	}
	return fail("assign roles", err)
}

// UnassignRoles removes the assignments; missing ones are no error.
func (db *DB) UnassignRoles(ctx context.Context, as []store.RoleAssignment) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		for _, a := range as {
			var err error
			if a.OrgID == "" {
				_, err = tx.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2`, a.UserID, a.RoleID)
			} else {
				_, err = tx.Exec(ctx, `DELETE FROM org_member_roles WHERE org_id = $1 AND user_id = $2 AND role_id = $3`,
					a.OrgID, a.UserID, a.RoleID)
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
// the organization, by name in byte order.
func (db *DB) UserRoles(ctx context.Context, userID, orgID string) ([]store.Role, error) {
	var rs []store.Role
	var err error
	if orgID == "" {
		rs, err = queryAll(ctx, db.pool, scanRole, qUserRoles, userID)
	} else {
		rs, err = queryAll(ctx, db.pool, scanRole, qOrgMemberRoles, userID, orgID)
	}
	if err != nil {
		return nil, fail("user roles", err)
	}
	return rs, nil
}

// ListRoleUsers returns a page of the IDs of the role's users, in byte
// order, and how many it has; ErrNotFound for an unknown role.
func (db *DB) ListRoleUsers(ctx context.Context, roleID, after string, offset, limit int) ([]string, int, error) {
	type row struct {
		total int64
		id    *string
	}
	rows, err := queryAll(ctx, db.pool, func(r pgx.CollectableRow) (row, error) {
		var v row
		return v, r.Scan(&v.total, &v.id)
	}, qListRoleUsers, roleID, after, limitArg(limit), max(offset, 0))
	if err == nil && len(rows) == 0 {
		err = fmt.Errorf("role %q: %w", roleID, store.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fail("list role users", err)
	}
	var ids []string
	for _, r := range rows {
		if r.id != nil {
			ids = append(ids, *r.id)
		}
	}
	return ids, int(rows[0].total), nil
}

// AddUserPermissions gives the user the permissions directly,
// atomically; ErrNotFound for an unknown user or API.
func (db *DB) AddUserPermissions(ctx context.Context, userID string, ps []store.Permission) error {
	return fail("add user permissions", db.changePermissions(ctx, qLockUser, "user", userID, qAddUserPermission, ps, true))
}

// RemoveUserPermissions takes the direct permissions from the user;
// ErrNotFound for an unknown user.
func (db *DB) RemoveUserPermissions(ctx context.Context, userID string, ps []store.Permission) error {
	return fail("remove user permissions", db.changePermissions(ctx, qLockUser, "user", userID, qRemoveUserPermission, ps, false))
}

// UserPermissions returns the permissions given to the user directly.
func (db *DB) UserPermissions(ctx context.Context, userID string) ([]store.Permission, error) {
	ps, err := queryAll(ctx, db.pool, scanPermission, qUserPermissions, userID)
	if err != nil {
		return nil, fail("user permissions", err)
	}
	return ps, nil
}

// EffectivePermissions returns the names of the user's permissions for the
// audience: direct, from roles held everywhere and, with orgID, from roles
// held in the organization.
func (db *DB) EffectivePermissions(ctx context.Context, userID, orgID, audience string) ([]string, error) {
	names, err := queryAll(ctx, db.pool, pgx.RowTo[string], qEffectivePermissions, userID, orgID, audience)
	if err != nil {
		return nil, fail("effective permissions", err)
	}
	return names, nil
}
