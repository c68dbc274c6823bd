package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

const authRequestColumns = `id, client_id, redirect_uri, response_mode, scopes, state, nonce,
	prompt, max_age, login_hint, code_challenge, code_challenge_method, connection, audience,
	acr_values, organization, invitation_hash, browser_hash, auth_user_id, auth_methods, consent_user_id,
	upstream_connection, upstream_state_hash, upstream_nonce, upstream_verifier, error,
	error_description, created_at, expires_at`

const codeColumns = `id, grant_id, client_id, user_id, session_id, redirect_uri, scopes, nonce,
	audience, organization, auth_time, code_challenge, code_challenge_method, created_at,
	expires_at, amr`

// A record is live while now is before its expires_at.
const (
	qInsertAuthRequest = `INSERT INTO auth_requests (` + authRequestColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetAuthRequest = `SELECT ` + authRequestColumns + ` FROM auth_requests
		WHERE id = ? AND expires_at > ?`
	// The intents of store.AuthRequestSteps: each sets its own columns of
	// a live request and nothing else.
	qRecordAuthentication = `UPDATE auth_requests SET (auth_user_id, auth_methods) = (?, ?)
		WHERE id = ? AND expires_at > ?`
	qRecordConsent      = `UPDATE auth_requests SET consent_user_id = ? WHERE id = ? AND expires_at > ?`
	qSetAuthRequestOrg  = `UPDATE auth_requests SET organization = ? WHERE id = ? AND expires_at > ?`
	qStartUpstreamLogin = `UPDATE auth_requests SET (upstream_connection, upstream_state_hash,
			upstream_nonce, upstream_verifier) = (?, ?, ?, ?) WHERE id = ? AND expires_at > ?`
	qEndAuthRequest = `UPDATE auth_requests SET (error, error_description) = (?, ?)
		WHERE id = ? AND expires_at > ?`
	// qConsumeUpstreamState is the whole of ConsumeUpstreamState: one
	// statement, so of concurrent callbacks with one state only the first
	// finds the hash. An empty hash is a request without an upstream login
	// in progress and never matches.
	qConsumeUpstreamState = `UPDATE auth_requests SET upstream_state_hash = ''
		WHERE id = ? AND upstream_state_hash = ? AND upstream_state_hash <> '' AND expires_at > ?
		RETURNING ` + authRequestColumns
	qDeleteAuthRequest  = `DELETE FROM auth_requests WHERE id = ?`
	qConsumeAuthRequest = `DELETE FROM auth_requests WHERE id = ? AND expires_at > ?`

	qInsertCode = `INSERT INTO auth_codes (` + codeColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// qRedeemCode is the whole happy path of RedeemCode.
	qRedeemCode = `UPDATE auth_codes SET used = 1 WHERE id = ? AND expires_at > ? AND used = 0
		RETURNING ` + codeColumns
	qGetLiveCode = `SELECT ` + codeColumns + ` FROM auth_codes WHERE id = ? AND expires_at > ?`
	qGetCode     = `SELECT ` + codeColumns + `, used FROM auth_codes WHERE id = ? AND expires_at > ?`
)

func scanAuthRequest(sc scanner) (store.AuthRequest, error) {
	var r store.AuthRequest
	err := sc.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &r.ResponseMode, jsonCol{&r.Scopes},
		&r.State, &r.Nonce, jsonCol{&r.Prompt}, &r.MaxAge, &r.LoginHint, &r.CodeChallenge,
		&r.CodeChallengeMethod, &r.Connection, &r.Audience, jsonCol{&r.ACRValues}, &r.Organization, &r.InvitationHash,
		&r.BrowserHash, &r.AuthUserID, jsonCol{&r.AuthMethods}, &r.ConsentUserID, &r.UpstreamConnection, &r.UpstreamStateHash, &r.UpstreamNonce,
		&r.UpstreamVerifier, &r.Error, &r.ErrorDescription, timeCol{&r.CreatedAt},
		timeCol{&r.ExpiresAt})
	return r, err
}

// codeDest returns the scan destinations of codeColumns.
func codeDest(c *store.AuthCode) []any {
	return []any{&c.ID, &c.GrantID, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI,
		jsonCol{&c.Scopes}, &c.Nonce, &c.Audience, &c.Organization, timeCol{&c.AuthTime},
		&c.CodeChallenge, &c.CodeChallengeMethod, timeCol{&c.CreatedAt}, timeCol{&c.ExpiresAt}, jsonCol{&c.AMR}}
}

func scanCode(sc scanner) (store.AuthCode, error) {
	var c store.AuthCode
	err := sc.Scan(codeDest(&c)...)
	return c, err
}

// CreateAuthRequest stores r; ErrConflict when its ID is taken.
func (db *DB) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	_, err := db.exec(ctx, qInsertAuthRequest, r.ID, r.ClientID, r.RedirectURI, r.ResponseMode,
		listJSON(r.Scopes), r.State, r.Nonce, listJSON(r.Prompt), r.MaxAge, r.LoginHint,
		r.CodeChallenge, r.CodeChallengeMethod, r.Connection, r.Audience, listJSON(r.ACRValues), r.Organization,
		r.InvitationHash, r.BrowserHash, r.AuthUserID, listJSON(r.AuthMethods), r.ConsentUserID,
		r.UpstreamConnection, r.UpstreamStateHash,
		r.UpstreamNonce, r.UpstreamVerifier, r.Error, r.ErrorDescription, millis(r.CreatedAt),
		millis(r.ExpiresAt))
	return fail("create auth request", err)
}

// GetAuthRequest returns a live request; ErrNotFound for unknown or expired
// ones.
func (db *DB) GetAuthRequest(ctx context.Context, id string) (store.AuthRequest, error) {
	r, err := scanAuthRequest(db.queryRow(ctx, qGetAuthRequest, id, millis(db.now())))
	if err != nil {
		return store.AuthRequest{}, fail("get auth request", err)
	}
	return r, nil
}

// setAuthRequest runs one of the intent statements on a live request;
// ErrNotFound when it is gone or expired.
func (db *DB) setAuthRequest(ctx context.Context, op, q, id string, args ...any) error {
	return fail(op, changed(db.exec(ctx, q, append(args, id, millis(db.now()))...)))
}

// RecordAuthentication notes who authenticated on the request and how.
func (db *DB) RecordAuthentication(ctx context.Context, id, userID string, methods []string) error {
	return db.setAuthRequest(ctx, "record authentication", qRecordAuthentication, id, userID, listJSON(methods))
}

// RecordConsent notes who approved the consent page.
func (db *DB) RecordConsent(ctx context.Context, id, userID string) error {
	return db.setAuthRequest(ctx, "record consent", qRecordConsent, id, userID)
}

// SetAuthRequestOrganization sets the organization chosen on the request.
func (db *DB) SetAuthRequestOrganization(ctx context.Context, id, orgID string) error {
	return db.setAuthRequest(ctx, "set auth request organization", qSetAuthRequestOrg, id, orgID)
}

// StartUpstreamLogin remembers an upstream login in progress.
func (db *DB) StartUpstreamLogin(ctx context.Context, id string, u store.UpstreamLogin) error {
	return db.setAuthRequest(ctx, "start upstream login", qStartUpstreamLogin, id, u.Connection, u.StateHash, u.Nonce, u.Verifier)
}

// EndAuthRequest ends the request with an error for the client.
func (db *DB) EndAuthRequest(ctx context.Context, id, code, description string) error {
	return db.setAuthRequest(ctx, "end auth request", qEndAuthRequest, id, code, description)
}

// ConsumeUpstreamState clears the upstream state hash of the live request
// if it is stateHash, and returns the request as it was; ErrNotFound when
// the request is gone or expired, or its hash is another, empty or already
// cleared (a forged or replayed upstream callback).
func (db *DB) ConsumeUpstreamState(ctx context.Context, requestID, stateHash string) (store.AuthRequest, error) {
	r, err := scanAuthRequest(db.writeRow(ctx, qConsumeUpstreamState, requestID, stateHash, millis(db.now())))
	if err != nil {
		return store.AuthRequest{}, fail("consume upstream state", err)
	}
	r.UpstreamStateHash = stateHash // RETURNING gives the cleared row; it matched stateHash before
	return r, nil
}

// DeleteAuthRequest removes the request, if it is there.
func (db *DB) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := db.exec(ctx, qDeleteAuthRequest, id)
	return fail("delete auth request", err)
}

func codeArgs(c store.AuthCode) []any {
	return []any{c.ID, c.GrantID, c.ClientID, c.UserID, c.SessionID, c.RedirectURI,
		listJSON(c.Scopes), c.Nonce, c.Audience, c.Organization, millis(c.AuthTime),
		c.CodeChallenge, c.CodeChallengeMethod, millis(c.CreatedAt), millis(c.ExpiresAt), listJSON(c.AMR)}
}

// ConsumeAuthRequestForCode deletes the live request and stores the code in
// one transaction; ErrNotFound when the request is gone or expired.
func (db *DB) ConsumeAuthRequestForCode(ctx context.Context, requestID string, c store.AuthCode) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := changed(t.exec(ctx, qConsumeAuthRequest, requestID, millis(db.now()))); err != nil {
			return err
		}
		_, err := t.exec(ctx, qInsertCode, codeArgs(c)...)
		return err
	})
	return fail("consume auth request for code", err)
}

// CreateCode stores a code issued without a stored request; ErrConflict
// when its ID is taken.
func (db *DB) CreateCode(ctx context.Context, c store.AuthCode) error {
	_, err := db.exec(ctx, qInsertCode, codeArgs(c)...)
	return fail("create code", err)
}

// GetCode returns a live code, redeemed or not; ErrNotFound for unknown or
// expired ones.
func (db *DB) GetCode(ctx context.Context, id string, now time.Time) (store.AuthCode, error) {
	var c store.AuthCode
	if err := db.queryRow(ctx, qGetCode, id, millis(now)).Scan(append(codeDest(&c), &c.Used)...); err != nil {
		return store.AuthCode{}, fail("get code", err)
	}
	return c, nil
}

// RedeemCode marks a live code used, stores issued's tokens and returns the
// code. A code used before is returned with ErrAlreadyUsed after every
// token of its grant has been revoked (RFC 6749 §4.1.2); the used code
// stays until it expires so that every further attempt is caught too.
func (db *DB) RedeemCode(ctx context.Context, id string, now time.Time, issued store.Issued) (store.AuthCode, error) {
	var code store.AuthCode
	var reused bool
	err := db.inTx(ctx, func(t tx) error {
		c, err := scanCode(t.queryRow(ctx, qRedeemCode, id, millis(now)))
		if err == nil {
			code = c
			return insertIssued(ctx, t, issued)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Unknown, expired or used: a live code that was not updated is used.
		c, err = scanCode(t.queryRow(ctx, qGetLiveCode, id, millis(now)))
		if err != nil {
			return err
		}
		c.Used = true
		code, reused = c, true
		return revokeGrant(ctx, t, c.GrantID)
	})
	if err != nil {
		return store.AuthCode{}, fail("redeem code", err)
	}
	if reused {
		return code, fmt.Errorf("redeem code: %w", store.ErrAlreadyUsed)
	}
	return code, nil
}
