package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
)

const authRequestColumns = `id, client_id, redirect_uri, response_mode, scopes, state, nonce,
	prompt, max_age, login_hint, code_challenge, code_challenge_method, connection, audience,
	acr_values, organization, invitation_hash, browser_hash, auth_user_id, auth_methods, consent_user_id,
	upstream_connection, upstream_state_hash, upstream_nonce, upstream_verifier, error,
	error_description, created_at, expires_at`

const codeColumns = `id, grant_id, client_id, user_id, session_id, redirect_uri, scopes, nonce,
	audience, organization, auth_time, code_challenge, code_challenge_method, created_at, expires_at, amr`

// A record is live while now is before its expires_at.
const (
	qInsertAuthRequest = `INSERT INTO auth_requests (` + authRequestColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
			$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)`
	qGetAuthRequest = `SELECT ` + authRequestColumns + ` FROM auth_requests
		WHERE id = $1 AND expires_at > $2`
	// The intents of store.AuthRequestSteps: each sets its own columns of
	// a live request and nothing else.
	qRecordAuthentication = `UPDATE auth_requests SET (auth_user_id, auth_methods) = ($3, $4)
		WHERE id = $1 AND expires_at > $2`
	qRecordConsent      = `UPDATE auth_requests SET consent_user_id = $3 WHERE id = $1 AND expires_at > $2`
	qSetAuthRequestOrg  = `UPDATE auth_requests SET organization = $3 WHERE id = $1 AND expires_at > $2`
	qStartUpstreamLogin = `UPDATE auth_requests SET (upstream_connection, upstream_state_hash,
			upstream_nonce, upstream_verifier) = ($3, $4, $5, $6) WHERE id = $1 AND expires_at > $2`
	qEndAuthRequest = `UPDATE auth_requests SET (error, error_description) = ($3, $4)
		WHERE id = $1 AND expires_at > $2`
	// qConsumeUpstreamState clears the state hash of a live request whose
	// hash matches, in one statement: of concurrent callbacks with one
	// state the first clears it, and the others wait for its row lock and
	// then find the hash gone.
	qConsumeUpstreamState = `UPDATE auth_requests SET upstream_state_hash = ''
		WHERE id = $1 AND expires_at > $2 AND upstream_state_hash = $3 AND $3 <> ''
		RETURNING ` + authRequestColumns

	// qConsumeAuthRequest deletes the live request and stores the code in
	// one statement. Of concurrent consumers the first deletes the row;
	// the others wait for its lock, find the row gone, and insert nothing.
	qConsumeAuthRequest = `WITH req AS (
			DELETE FROM auth_requests WHERE id = $1 AND expires_at > $2 RETURNING id
		)
		INSERT INTO auth_codes (` + codeColumns + `)
		SELECT $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::jsonb, $10::text,
			$11::text, $12::text, $13::timestamptz, $14::text, $15::text, $16::timestamptz, $17::timestamptz,
			$18::jsonb
		FROM req`

	// qRedeemCode is the whole happy path of RedeemCode: one statement,
	// so one round trip. Concurrent redeemers queue on the row lock and,
	// once the winner commits, find used set and update nothing.
	qRedeemCode = `UPDATE auth_codes SET used = true WHERE id = $1 AND expires_at > $2 AND NOT used
		RETURNING ` + codeColumns
	qLockLiveCode = `SELECT ` + codeColumns + `, used FROM auth_codes
		WHERE id = $1 AND expires_at > $2 FOR UPDATE`
	qGetCode    = `SELECT ` + codeColumns + `, used FROM auth_codes WHERE id = $1 AND expires_at > $2`
	qInsertCode = `INSERT INTO auth_codes (` + codeColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`
)

// redeemQueries[access][refresh] extend qRedeemCode with the inserts of the
// issued tokens: data-modifying CTEs that select from the redeemed row, so
// they insert only when the code was redeemed, and a failing insert undoes
// the redemption. Still one statement, one round trip.
var redeemQueries = func() (q [2][2]string) {
	for a := range 2 {
		for r := range 2 {
			if a == 0 && r == 0 {
				q[a][r] = qRedeemCode
				continue
			}
			s := `WITH code AS (` + qRedeemCode + `)`
			next := 3
			if a == 1 {
				s += `, access AS (INSERT INTO access_tokens (` + accessTokenColumns + `)
					SELECT ` + accessTokenValues(next) + ` FROM code)`
				next += accessTokenArgCount
			}
			if r == 1 {
				s += `, refresh AS (INSERT INTO refresh_tokens (` + refreshTokenColumns + `)
					SELECT ` + refreshTokenValues(next) + ` FROM code)`
			}
			q[a][r] = s + ` SELECT ` + codeColumns + ` FROM code`
		}
	}
	return q
}()

// issuedArgs returns the query of a redemption storing issued and its
// arguments after the code's id and now.
func issuedArgs(issued store.Issued) (string, []any) {
	var args []any
	a, r := 0, 0
	if issued.Access != nil {
		a = 1
		args = append(args, accessTokenArgs(*issued.Access)...)
	}
	if issued.Refresh != nil {
		r = 1
		args = append(args, refreshTokenArgs(*issued.Refresh)...)
	}
	return redeemQueries[a][r], args
}

func scanAuthRequest(row pgx.CollectableRow) (store.AuthRequest, error) {
	var r store.AuthRequest
	err := row.Scan(&r.ID, &r.ClientID, &r.RedirectURI, &r.ResponseMode, &r.Scopes, &r.State, &r.Nonce,
		&r.Prompt, &r.MaxAge, &r.LoginHint, &r.CodeChallenge, &r.CodeChallengeMethod, &r.Connection,
		&r.Audience, &r.ACRValues, &r.Organization, &r.InvitationHash, &r.BrowserHash, &r.AuthUserID, &r.AuthMethods, &r.ConsentUserID,
		&r.UpstreamConnection, &r.UpstreamStateHash,
		&r.UpstreamNonce, &r.UpstreamVerifier, &r.Error, &r.ErrorDescription, &r.CreatedAt, &r.ExpiresAt)
	r.CreatedAt, r.ExpiresAt = utc(r.CreatedAt), utc(r.ExpiresAt)
	return r, err
}

// codeDest returns the scan destinations of codeColumns.
func codeDest(c *store.AuthCode) []any {
	return []any{&c.ID, &c.GrantID, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &c.Scopes,
		&c.Nonce, &c.Audience, &c.Organization, &c.AuthTime, &c.CodeChallenge, &c.CodeChallengeMethod, &c.CreatedAt,
		&c.ExpiresAt, &c.AMR}
}

func codeUTC(c *store.AuthCode) {
	c.AuthTime, c.CreatedAt, c.ExpiresAt = utc(c.AuthTime), utc(c.CreatedAt), utc(c.ExpiresAt)
}

func scanCode(row pgx.CollectableRow) (store.AuthCode, error) {
	var c store.AuthCode
	err := row.Scan(codeDest(&c)...)
	codeUTC(&c)
	return c, err
}

// CreateAuthRequest stores r; ErrConflict when its ID is taken.
func (db *DB) CreateAuthRequest(ctx context.Context, r store.AuthRequest) error {
	_, err := db.exec(ctx, qInsertAuthRequest, r.ID, r.ClientID, r.RedirectURI, r.ResponseMode,
		list(r.Scopes), r.State, r.Nonce, list(r.Prompt), r.MaxAge, r.LoginHint, r.CodeChallenge,
		r.CodeChallengeMethod, r.Connection, r.Audience, list(r.ACRValues), r.Organization, r.InvitationHash, r.BrowserHash, r.AuthUserID, list(r.AuthMethods), r.ConsentUserID,
		r.UpstreamConnection,
		r.UpstreamStateHash, r.UpstreamNonce, r.UpstreamVerifier, r.Error, r.ErrorDescription,
		r.CreatedAt, r.ExpiresAt)
	return fail("create auth request", err)
}

// GetAuthRequest returns a live request; ErrNotFound for unknown or expired
// ones.
func (db *DB) GetAuthRequest(ctx context.Context, id string) (store.AuthRequest, error) {
	r, err := queryOne(ctx, db.pool, scanAuthRequest, qGetAuthRequest, id, db.now())
	if err != nil {
		return store.AuthRequest{}, fail("get auth request", err)
	}
	return r, nil
}

// setAuthRequest runs one of the intent statements on a live request;
// ErrNotFound when it is gone or expired.
func (db *DB) setAuthRequest(ctx context.Context, op, q, id string, args ...any) error {
	return fail(op, changed(db.exec(ctx, q, append([]any{id, db.now()}, args...)...)))
}

// RecordAuthentication notes who authenticated on the request and how.
func (db *DB) RecordAuthentication(ctx context.Context, id, userID string, methods []string) error {
	return db.setAuthRequest(ctx, "record authentication", qRecordAuthentication, id, userID, list(methods))
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
// the request is gone or expired, or the hash is another or already
// cleared (a forged or replayed upstream callback). An empty stateHash
// never matches.
func (db *DB) ConsumeUpstreamState(ctx context.Context, requestID, stateHash string) (store.AuthRequest, error) {
	var r store.AuthRequest
	err := retry(ctx, func() error {
		var err error
		r, err = queryOne(ctx, db.pool, scanAuthRequest, qConsumeUpstreamState, requestID, db.now(), stateHash)
		return err
	})
	if err != nil {
		return store.AuthRequest{}, fail("consume upstream state", err)
	}
	r.UpstreamStateHash = stateHash // as it was
	return r, nil
}

// DeleteAuthRequest removes the request, if it is there.
func (db *DB) DeleteAuthRequest(ctx context.Context, id string) error {
	_, err := db.exec(ctx, `DELETE FROM auth_requests WHERE id = $1`, id)
	return fail("delete auth request", err)
}

func codeArgs(c store.AuthCode) []any {
	return []any{c.ID, c.GrantID, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, list(c.Scopes),
		c.Nonce, c.Audience, c.Organization, c.AuthTime, c.CodeChallenge, c.CodeChallengeMethod,
		c.CreatedAt, c.ExpiresAt, list(c.AMR)}
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
	if err := db.pool.QueryRow(ctx, qGetCode, id, now).Scan(append(codeDest(&c), &c.Used)...); err != nil {
		return store.AuthCode{}, fail("get code", err)
	}
	codeUTC(&c)
	return c, nil
}

// ConsumeAuthRequestForCode deletes the live request and stores the code in
// one statement; ErrNotFound when the request is gone or expired.
func (db *DB) ConsumeAuthRequestForCode(ctx context.Context, requestID string, c store.AuthCode) error {
	err := changed(db.exec(ctx, qConsumeAuthRequest, append([]any{requestID, db.now()}, codeArgs(c)...)...))
	return fail("consume auth request for code", err)
}

// RedeemCode marks a live code used, stores issued's tokens and returns
// the code. A code used before is
// returned with ErrAlreadyUsed after every token of its grant has been
// revoked (RFC 6749 §4.1.2: the authorization server SHOULD revoke the
// tokens issued on a code presented twice); the used code stays until it
// expires so that every further attempt is caught too.
//
// The happy path is one UPDATE … RETURNING. Only when it misses does a
// transaction lock the code and decide between unknown or expired, used
// (revoke the grant, in that same transaction), and live after all (a code
// stored since: redeem it there). Used never goes back to false, so a code
// the UPDATE found used is still used when the transaction looks.
func (db *DB) RedeemCode(ctx context.Context, id string, now time.Time, issued store.Issued) (store.AuthCode, error) {
	c, err := redeem(ctx, db, id, now, issued)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.AuthCode{}, fail("redeem code", err)
	}

	var reused bool
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		var used bool
		c, reused = store.AuthCode{}, false
		if err := tx.QueryRow(ctx, qLockLiveCode, id, now).Scan(append(codeDest(&c), &used)...); err != nil {
			return err
		}
		codeUTC(&c)
		if !used {
			if _, err := tx.Exec(ctx, `UPDATE auth_codes SET used = true WHERE id = $1`, id); err != nil {
				return err
			}
			return insertIssued(ctx, tx, issued)
		}
		c.Used, reused = true, true
		return revokeGrant(ctx, tx, c.GrantID)
	})
	if err != nil {
		return store.AuthCode{}, fail("redeem code", err)
	}
	if reused {
		return c, fmt.Errorf("redeem code: %w", store.ErrAlreadyUsed)
	}
	return c, nil
}

// redeem runs the happy path of RedeemCode; pgx.ErrNoRows when it updated
// nothing.
func redeem(ctx context.Context, db *DB, id string, now time.Time, issued store.Issued) (store.AuthCode, error) {
	var c store.AuthCode
	q, rest := issuedArgs(issued)
	args := append([]any{id, now}, rest...)
	err := retry(ctx, func() error {
		var err error
		c, err = queryOne(ctx, db.pool, scanCode, q, args...)
		return err
	})
	return c, err
}
