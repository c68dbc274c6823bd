package postgres

import (
	"context"
	"encoding/json"
	"fmt"
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
const userSelect = `SELECT u.id, u.created_at, ` + userFieldColumns + `,
	coalesce((SELECT jsonb_agg(jsonb_build_array(i.connection, i.provider, i.provider_user_id) ORDER BY i.position)
		FROM identities i WHERE i.user_id = u.id), '[]')
	FROM users u`

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
	var u store.User
	var lastLogin *time.Time
	var app, user []byte
	var ids [][3]string
	if err := row.Scan(&u.ID, &u.CreatedAt, &u.Connection, &u.Email, &u.EmailVerified, &u.PasswordHash,
		&u.Name, &u.Nickname, &u.Picture, &u.GivenName, &u.FamilyName, &u.Blocked, &u.LoginsCount,
		&lastLogin, &app, &user, &u.UpdatedAt, &ids); err != nil {
		return store.User{}, err
	}
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

// DeleteUser removes the user, its identities and everything issued to it;
// ErrNotFound.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// Identities go with the user (ON DELETE CASCADE).
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err := changed(tag.RowsAffected(), err); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM sessions WHERE user_id = $1`,
			`DELETE FROM grants WHERE user_id = $1`,
			`DELETE FROM auth_codes WHERE user_id = $1`,
			`DELETE FROM access_tokens WHERE user_id = $1`,
			`DELETE FROM refresh_tokens WHERE user_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	return fail("delete user", err)
}
