package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"gatehouse/internal/store"
)

// userFieldColumns are the user columns that UpdateUser replaces: all but
// id and created_at.
const userFieldColumns = `connection, email, email_verified, password_hash, name, nickname,
	picture, given_name, family_name, blocked, logins_count, last_login, app_metadata,
	user_metadata, updated_at`

// userSelect reads users with their identities, one row per identity (or
// one row with NULL identity columns), in one statement so that a user and
// its identities come from the same snapshot.
const userSelect = `SELECT ` + userColumns + ` FROM users u LEFT JOIN identities i ON i.user_id = u.id`

// userColumns are the columns scanUsers reads.
const userColumns = `u.id, u.created_at, u.connection, u.email, u.email_verified,
	u.password_hash, u.name, u.nickname, u.picture, u.given_name, u.family_name, u.blocked,
	u.logins_count, u.last_login, u.app_metadata, u.user_metadata, u.updated_at,
	i.connection, i.provider, i.provider_user_id`

const (
	qInsertUser = `INSERT INTO users (id, created_at, ` + userFieldColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateUser = `UPDATE users SET (` + userFieldColumns + `)
		= (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ?`
	qGetUser = userSelect + ` WHERE u.id = ? ORDER BY i.position`
	// email <> '' lets SQLite use the partial unique index, and keeps
	// users without an email from matching an empty lookup.
	qGetUserByEmail = userSelect + ` WHERE u.connection = ? AND u.email = ? AND u.email <> ''
		ORDER BY i.position`
	// qGetUserByIdentity finds the user through the unique index
	// identities_connection_provider_user, then reads all its identities.
	qGetUserByIdentity = userSelect + ` WHERE u.id = (SELECT user_id FROM identities
		WHERE connection = ? AND provider_user_id = ?) ORDER BY i.position`
	qListUsers        = userSelect + ` ORDER BY u.id, i.position`
	qRecordLogin      = `UPDATE users SET logins_count = logins_count + 1, last_login = ? WHERE id = ?`
	qInsertIdentity   = `INSERT INTO identities (user_id, position, connection, provider, provider_user_id) VALUES (?, ?, ?, ?, ?)`
	qDeleteIdentities = `DELETE FROM identities WHERE user_id = ?`
	// qCopyMemberships makes the first user a member of every organization
	// the second is in; the WHERE clause also keeps SQLite from reading ON
	// CONFLICT as a join constraint.
	qCopyMemberships = `INSERT INTO org_members (org_id, user_id)
		SELECT org_id, ? FROM org_members WHERE user_id = ? ON CONFLICT DO NOTHING`
)

// userFields returns the arguments for userFieldColumns.
func userFields(u store.User) ([]any, error) {
	app, err := mapJSON(u.AppMetadata)
	if err != nil {
		return nil, fmt.Errorf("encode app metadata: %w", err)
	}
	user, err := mapJSON(u.UserMetadata)
	if err != nil {
		return nil, fmt.Errorf("encode user metadata: %w", err)
	}
	return []any{u.Connection, u.Email, u.EmailVerified, u.PasswordHash, u.Name, u.Nickname,
		u.Picture, u.GivenName, u.FamilyName, u.Blocked, u.LoginsCount, nullMillis(u.LastLogin),
		app, user, millis(u.UpdatedAt)}, nil
}

func insertIdentities(ctx context.Context, t tx, userID string, ids []store.Identity) error {
	for i, id := range ids {
		if _, err := t.exec(ctx, qInsertIdentity, userID, i, id.Connection, id.Provider, id.UserID); err != nil {
			return err
		}
	}
	return nil
}

// scanUsers reads the rows of userSelect, which come grouped by user. The
// rows may start with more columns, scanned into before on every row.
func scanUsers(rows *sql.Rows, before ...any) ([]store.User, error) {
	defer rows.Close()
	var users []store.User
	for rows.Next() {
		var u store.User
		var conn, provider, providerUserID sql.NullString
		if err := rows.Scan(append(before, &u.ID, timeCol{&u.CreatedAt}, &u.Connection, &u.Email, &u.EmailVerified,
			&u.PasswordHash, &u.Name, &u.Nickname, &u.Picture, &u.GivenName, &u.FamilyName, &u.Blocked,
			&u.LoginsCount, timeCol{&u.LastLogin}, jsonCol{&u.AppMetadata}, jsonCol{&u.UserMetadata},
			timeCol{&u.UpdatedAt}, &conn, &provider, &providerUserID)...); err != nil {
			return nil, err
		}
		if n := len(users); n == 0 || users[n-1].ID != u.ID {
			users = append(users, u)
		}
		if conn.Valid {
			last := &users[len(users)-1]
			last.Identities = append(last.Identities, store.Identity{
				Connection: conn.String, Provider: provider.String, UserID: providerUserID.String,
			})
		}
	}
	return users, rows.Err()
}

func (db *DB) getUser(ctx context.Context, q string, args ...any) (store.User, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return store.User{}, err
	}
	users, err := scanUsers(rows)
	if err != nil {
		return store.User{}, err
	}
	if len(users) == 0 {
		return store.User{}, store.ErrNotFound
	}
	return users[0], nil
}

// CreateUser stores u and its identities; ErrConflict when its ID, its
// (connection, email) or one of its identities is taken.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	fields, err := userFields(u)
	if err != nil {
		return fail("create user", err)
	}
	err = db.inTx(ctx, func(t tx) error {
		args := append([]any{u.ID, millis(u.CreatedAt)}, fields...)
		if _, err := t.exec(ctx, qInsertUser, args...); err != nil {
			return err
		}
		return insertIdentities(ctx, t, u.ID, u.Identities)
	})
	return fail("create user", err)
}

// GetUser returns the user with the ID; ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := db.getUser(ctx, qGetUser, id)
	return u, fail("get user", err)
}

// GetUserByEmail returns the user with the email in the connection;
// ErrNotFound, also for an empty email.
func (db *DB) GetUserByEmail(ctx context.Context, connection, email string) (store.User, error) {
	u, err := db.getUser(ctx, qGetUserByEmail, connection, email)
	return u, fail("get user by email", err)
}

// GetUserByIdentity returns the user holding the identity (connection,
// provider user id), with all its identities; ErrNotFound.
func (db *DB) GetUserByIdentity(ctx context.Context, connection, providerUserID string) (store.User, error) {
	u, err := db.getUser(ctx, qGetUserByIdentity, connection, providerUserID)
	return u, fail("get user by identity", err)
}

// ListUsers returns every user, by ID.
func (db *DB) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := db.query(ctx, qListUsers)
	if err != nil {
		return nil, fail("list users", err)
	}
	users, err := scanUsers(rows)
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
	err = db.inTx(ctx, func(t tx) error {
		if err := changed(t.exec(ctx, qUpdateUser, append(fields, u.ID)...)); err != nil {
			return err
		}
		if _, err := t.exec(ctx, qDeleteIdentities, u.ID); err != nil {
			return err
		}
		return insertIdentities(ctx, t, u.ID, u.Identities)
	})
	return fail("update user", err)
}

// RecordLogin counts a login at the time; ErrNotFound.
func (db *DB) RecordLogin(ctx context.Context, userID string, at time.Time) error {
	return fail("record login", changed(db.exec(ctx, qRecordLogin, millis(at), userID)))
}

// LinkUsers merges the secondary user into the primary in one write
// transaction: the secondary's identities follow the primary's own, its
// memberships are added to the primary's, and the secondary is deleted as
// DeleteUser deletes it. The primary's other fields stay as they were,
// UpdatedAt included: the store has no clock for users, and a caller that
// wants the link recorded sets UpdatedAt with UpdateUser. ErrNotFound when
// either user is missing; an error when both are the same user. Nothing
// changes on any error.
func (db *DB) LinkUsers(ctx context.Context, primaryID, secondaryID string) (store.User, error) {
	if primaryID == secondaryID {
		return store.User{}, fmt.Errorf("link users: cannot link user %q to itself", primaryID)
	}
	var linked store.User
	err := db.inTx(ctx, func(t tx) error {
		// BEGIN IMMEDIATE holds the write lock from here on, so both users
		// stay as read until the commit.
		primary, err := getUserTx(ctx, t, primaryID)
		if err != nil {
			return err
		}
		secondary, err := getUserTx(ctx, t, secondaryID)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, qCopyMemberships, primaryID, secondaryID); err != nil {
			return err
		}
		// Deleting the secondary first frees its identities (ON DELETE
		// CASCADE), so inserting them for the primary cannot trip the
		// unique (connection, provider_user_id) index.
		if err := deleteUser(ctx, t, secondaryID); err != nil {
			return err
		}
		// The primary's identities are written again with the secondary's
		// after them, so positions run on from the primary's last.
		if _, err := t.exec(ctx, qDeleteIdentities, primaryID); err != nil {
			return err
		}
		if err := insertIdentities(ctx, t, primaryID, slices.Concat(primary.Identities, secondary.Identities)); err != nil {
			return err
		}
		linked, err = getUserTx(ctx, t, primaryID)
		return err
	})
	if err != nil {
		return store.User{}, fail("link users", err)
	}
	return linked, nil
}

// getUserTx reads a user inside the write transaction; ErrNotFound naming
// the user.
func getUserTx(ctx context.Context, t tx, id string) (store.User, error) {
	rows, err := t.query(ctx, qGetUser, id)
	if err != nil {
		return store.User{}, err
	}
	users, err := scanUsers(rows)
	if err != nil {
		return store.User{}, err
	}
	if len(users) == 0 {
		return store.User{}, fmt.Errorf("user %q: %w", id, store.ErrNotFound)
	}
	return users[0], nil
}

// DeleteUser removes the user, its identities, its memberships and
// everything issued to it; ErrNotFound. Invitations it accepted keep naming
// it in UsedBy.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(t tx) error {
		return deleteUser(ctx, t, id)
	})
	return fail("delete user", err)
}

// deleteUser is DeleteUser inside a write transaction.
func deleteUser(ctx context.Context, t tx, id string) error {
	// Identities and memberships go with the user (ON DELETE CASCADE).
	if err := changed(t.exec(ctx, `DELETE FROM users WHERE id = ?`, id)); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM sessions WHERE user_id = ?`,
		`DELETE FROM grants WHERE user_id = ?`,
		`DELETE FROM auth_codes WHERE user_id = ?`,
		`DELETE FROM access_tokens WHERE user_id = ?`,
		`DELETE FROM refresh_tokens WHERE user_id = ?`,
	} {
		if _, err := t.exec(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}
