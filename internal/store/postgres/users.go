package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

// userFieldColumns are the user columns that UpdateUser replaces: all but
// id and created_at.
const userFieldColumns = `connection, email, email_verified, password_hash, name, nickname,
	picture, given_name, family_name, blocked, logins_count, last_login, app_metadata,
	user_metadata, updated_at`

// userSelect reads users with their identities aggregated into one JSONB
// array in User.Identities order, so that a user and its identities come
// from the same snapshot in one row.
const userSelect = `SELECT ` + userColumns + ` FROM users u`

// userColumns are the columns scanUser reads, from users u.
const userColumns = `u.id, u.created_at, u.connection, u.email, u.email_verified, u.password_hash,
	u.name, u.nickname, u.picture, u.given_name, u.family_name, u.blocked, u.logins_count,
	u.last_login, u.app_metadata, u.user_metadata, u.updated_at,
	coalesce((SELECT jsonb_agg(jsonb_build_array(i.connection, i.provider, i.provider_user_id) ORDER BY i.position)
		FROM identities i WHERE i.user_id = u.id), '[]')`

const (
	qInsertUser = `INSERT INTO users (id, created_at, ` + userFieldColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`
	qUpdateUser = `UPDATE users SET (` + userFieldColumns + `)
		= ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) WHERE id = $1`
	// qInsertIdentities stores a user's identities in one statement from
	// three parallel arrays; position counts from 0.
	qInsertIdentities = `INSERT INTO identities (user_id, position, connection, provider, provider_user_id)
		SELECT $1, i.ord - 1, i.connection, i.provider, i.provider_user_id
		FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS i (connection, provider, provider_user_id, ord)`

	// qLockUsers locks the users of a link in one fixed order, so that two
	// links of the same users in opposite directions queue instead of
	// deadlocking. A user deleted while the statement waited is skipped.
	qLockUsers = `SELECT id FROM users WHERE id = ANY ($1::text[]) ORDER BY id COLLATE "C" FOR UPDATE`
	// qCopyMemberships makes $1 a member of every organization $2 is in.
	qCopyMemberships = `INSERT INTO org_members (org_id, user_id)
		SELECT org_id, $1 FROM org_members WHERE user_id = $2 ON CONFLICT DO NOTHING`
)

// userFields returns the arguments for userFieldColumns.
func userFields(u store.User) ([]any, error) {
	// Metadata may hold values JSON cannot encode; fail before the
	// database sees them. nil stays JSON null, so it reads back nil.
	app, err := json.Marshal(u.AppMetadata)
	if err != nil {
		return nil, fmt.Errorf("encode app metadata: %w", err)
	}
	user, err := json.Marshal(u.UserMetadata)
	if err != nil {
		return nil, fmt.Errorf("encode user metadata: %w", err)
	}
	return []any{u.Connection, u.Email, u.EmailVerified, u.PasswordHash, u.Name, u.Nickname,
		u.Picture, u.GivenName, u.FamilyName, u.Blocked, u.LoginsCount, nullTime(u.LastLogin),
		string(app), string(user), u.UpdatedAt}, nil
}

func insertIdentities(ctx context.Context, tx pgx.Tx, userID string, ids []store.Identity) error {
	if len(ids) == 0 {
		return nil
	}
	conns := make([]string, len(ids))
	providers := make([]string, len(ids))
	users := make([]string, len(ids))
	for i, id := range ids {
		conns[i], providers[i], users[i] = id.Connection, id.Provider, id.UserID
	}
	_, err := tx.Exec(ctx, qInsertIdentities, userID, conns, providers, users)
	return err
}

func scanUser(row pgx.CollectableRow) (store.User, error) {
	var u userRow
	if err := row.Scan(u.dest()...); err != nil {
		return store.User{}, err
	}
	return u.user()
}

// userRow holds the scanned userColumns.
type userRow struct {
	u         store.User
	lastLogin *time.Time
	app, meta []byte
	ids       [][3]string
}

func (r *userRow) dest() []any {
	u := &r.u
	return []any{&u.ID, &u.CreatedAt, &u.Connection, &u.Email, &u.EmailVerified, &u.PasswordHash,
		&u.Name, &u.Nickname, &u.Picture, &u.GivenName, &u.FamilyName, &u.Blocked, &u.LoginsCount,
		&r.lastLogin, &r.app, &r.meta, &u.UpdatedAt, &r.ids}
}

func (r *userRow) user() (store.User, error) {
	u, app, user, ids, lastLogin := r.u, r.app, r.meta, r.ids, r.lastLogin
	if err := json.Unmarshal(app, &u.AppMetadata); err != nil {
		return store.User{}, fmt.Errorf("decode app metadata: %w", err)
	}
	if err := json.Unmarshal(user, &u.UserMetadata); err != nil {
		return store.User{}, fmt.Errorf("decode user metadata: %w", err)
	}
	for _, id := range ids {
		u.Identities = append(u.Identities, store.Identity{Connection: id[0], Provider: id[1], UserID: id[2]})
	}
	u.LastLogin = timeOrZero(lastLogin)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return u, nil
}

// CreateUser stores u and its identities; ErrConflict when its ID, its
// (connection, email) or one of its identities is taken.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	fields, err := userFields(u)
	if err != nil {
		return fail("create user", err)
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qInsertUser, append([]any{u.ID, u.CreatedAt}, fields...)...); err != nil {
			return err
		}
		return insertIdentities(ctx, tx, u.ID, u.Identities)
	})
	return fail("create user", err)
}

// GetUser returns the user with the ID; ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := queryOne(ctx, db.pool, scanUser, userSelect+` WHERE u.id = $1`, id)
	if err != nil {
		return store.User{}, fail("get user", err)
	}
	return u, nil
}

// GetUserByEmail returns the user with the email in the connection;
// ErrNotFound, also for an empty email.
func (db *DB) GetUserByEmail(ctx context.Context, connection, email string) (store.User, error) {
	// email <> '' matches the partial unique index, and keeps users
	// without an email from matching an empty lookup.
	u, err := queryOne(ctx, db.pool, scanUser, userSelect+` WHERE u.connection = $1 AND u.email = $2 AND u.email <> ''`,
		connection, email)
	if err != nil {
		return store.User{}, fail("get user by email", err)
	}
	return u, nil
}

// ListUsers returns every user, by ID.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	users, err := queryAll(ctx, db.pool, scanUser, userSelect+` ORDER BY u.id`)
	if err != nil {
		return nil, fail("list users", err)
	}
	return users, nil
}

// UpdateUser replaces every field of the user but ID and CreatedAt,
// identities included; ErrNotFound, ErrConflict.
func (db *DB) UpdateUser(ctx context.Context, u store.User) error {
	fields, err := userFields(u)
	if err != nil {
		return fail("update user", err)
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qUpdateUser, append([]any{u.ID}, fields...)...)
		if err := changed(tag.RowsAffected(), err); err != nil {
			return err
		}
		// Separate statements: a unique check in the same statement as
		// the DELETE would still see the identities being replaced.
		if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
		return insertIdentities(ctx, tx, u.ID, u.Identities)
	})
	return fail("update user", err)
}

// RecordLogin counts a login at the time; ErrNotFound.
func (db *DB) RecordLogin(ctx context.Context, userID string, at time.Time) error {
	return fail("record login", changed(db.exec(ctx,
		`UPDATE users SET logins_count = logins_count + 1, last_login = $2 WHERE id = $1`, userID, at)))
}

// LinkUsers merges the secondary user into the primary in one transaction:
// the secondary's identities follow the primary's own, its memberships are
// added to the primary's, and the secondary is deleted as DeleteUser deletes
// it. The primary's other fields stay as they were, UpdatedAt included: the
// store has no clock for users, and a caller that wants the link recorded
// sets UpdatedAt with UpdateUser. ErrNotFound when either user is missing;
// an error when both are the same user. Nothing changes on any error.
func (db *DB) LinkUsers(ctx context.Context, primaryID, secondaryID string) (store.User, error) {
	if primaryID == secondaryID {
		return store.User{}, fmt.Errorf("link users: cannot link user %q to itself", primaryID)
	}
	var linked store.User
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qLockUsers, []string{primaryID, secondaryID})
		if err != nil {
			return err
		}
		locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range []string{primaryID, secondaryID} {
			if !slices.Contains(locked, id) {
				return fmt.Errorf("user %q: %w", id, store.ErrNotFound)
			}
		}
		// Read only now: at READ COMMITTED each statement has its own
		// snapshot, so these reads see everything committed before the
		// locks were granted, and the locks keep it so until the commit.
		primary, err := queryOne(ctx, tx, scanUser, userSelect+` WHERE u.id = $1`, primaryID)
		if err != nil {
			return err
		}
		secondary, err := queryOne(ctx, tx, scanUser, userSelect+` WHERE u.id = $1`, secondaryID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qCopyMemberships, primaryID, secondaryID); err != nil {
			return err
		}
		// Deleting the secondary first removes its identities (ON DELETE
		// CASCADE) in a statement of its own, so inserting them for the
		// primary cannot trip the unique (connection, provider_user_id)
		// index.
		if err := deleteUser(ctx, tx, secondaryID); err != nil {
			return err
		}
		// The primary's identities are written again with the secondary's
		// after them, so positions run on from the primary's last.
		if _, err := tx.Exec(ctx, `DELETE FROM identities WHERE user_id = $1`, primaryID); err != nil {
			return err
		}
		if err := insertIdentities(ctx, tx, primaryID, slices.Concat(primary.Identities, secondary.Identities)); err != nil {
			return err
		}
		linked, err = queryOne(ctx, tx, scanUser, userSelect+` WHERE u.id = $1`, primaryID)
		return err
	})
	if err != nil {
		return store.User{}, fail("link users", err)
	}
	return linked, nil
}

// DeleteUser removes the user, its identities and everything issued to it;
// ErrNotFound.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		return deleteUser(ctx, tx, id)
	})
	return fail("delete user", err)
}

// deleteUser is DeleteUser inside a transaction.
func deleteUser(ctx context.Context, tx pgx.Tx, id string) error {
	// Identities and memberships go with the user (ON DELETE CASCADE).
	tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err := changed(tag.RowsAffected(), err); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM sessions WHERE user_id = $1`,
		`DELETE FROM grants WHERE user_id = $1`,
		`DELETE FROM auth_codes WHERE user_id = $1`,
	} {
		if _, err := tx.Exec(ctx, q, id); err != nil {
			return err
		}
	}
	// Under the family locks, so that a rotation racing the deletion
	// cannot leave its new token behind.
	return deleteUserTokens(ctx, tx, id)
}
