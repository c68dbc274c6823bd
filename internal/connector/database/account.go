package database

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// Paths of the hosted pages that take a ticket, as ?ticket=TOKEN. The links
// in emails and those the command line prints are built from them.
// (Defined once, with the other hosted pages, in internal/authflow.)
const (
	ResetPasswordPath = authflow.ResetPasswordPath
	VerifyEmailPath   = authflow.VerifyEmailPath
)

// Default ticket lifetimes: a reset link is a key to the account and lives
// briefly; a verification link waits for the user to open their mail.
const (
	DefaultResetTTL        = 30 * time.Minute
	DefaultVerificationTTL = 24 * time.Hour
)

// maxTicketTTL bounds any ticket's life.
const maxTicketTTL = 30 * 24 * time.Hour

// Errors of the account changes, besides store.ErrNotFound (an unknown,
// expired or withdrawn link) and store.ErrAlreadyUsed.
var (
	// ErrNotPasswordUser means the user is of another connection (GitHub,
	// an OpenID provider) and has no password here.
	ErrNotPasswordUser = errors.New("user does not sign in with a password")
)

// TicketURL returns the link that hands the ticket token to its hosted
// page under issuer.
func TicketURL(issuer, kind, tok string) (string, error) {
	path, err := ticketPath(kind)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(issuer, "/") + path + "?" + url.Values{"ticket": {tok}}.Encode(), nil
}

func ticketPath(kind string) (string, error) {
	switch kind {
	case store.TicketPasswordReset:
		return ResetPasswordPath, nil
	case store.TicketEmailVerification:
		return VerifyEmailPath, nil
	}
	return "", fmt.Errorf("unknown ticket kind %q", kind)
}

// IssueTicket stores a new ticket of the kind for the user, sent to the
// user's email, and returns its token: the only time the token exists
// outside the link, for only its hash is stored. clientID and requestID,
// optional, name the application and authorization request to return to
// afterwards. A new reset ticket withdraws the user's older ones; older
// verification tickets stay valid, as the user may open either email.
func IssueTicket(ctx context.Context, st store.TicketStore, kind string, user store.User, ttl time.Duration, clientID, requestID string) (string, error) {
	return IssueTicketWith(ctx, st, kind, user, ttl, TicketOptions{ClientID: clientID, RequestID: requestID})
}

// TicketOptions are what a ticket leads to once used, all optional.
type TicketOptions struct {
	// ClientID and RequestID name the application and the authorization
	// request to return to.
	ClientID, RequestID string
	// ResultURL is where the page sends the browser once the ticket is
	// used (tickets made through the management API).
	ResultURL string
	// KeepEmailUnverified makes a used reset ticket leave the email
	// unverified: for a link handed out rather than mailed to the address.
	KeepEmailUnverified bool
}

// IssueTicketWith is IssueTicket with every option of the ticket.
func IssueTicketWith(ctx context.Context, st store.TicketStore, kind string, user store.User, ttl time.Duration, opts TicketOptions) (string, error) {
	if _, err := ticketPath(kind); err != nil {
		return "", fmt.Errorf("issue ticket: %w", err)
	}
	if ttl <= 0 || ttl > maxTicketTTL {
		return "", fmt.Errorf("issue ticket: lifetime %s is not between 1s and 30d", ttl)
	}
	if kind == store.TicketPasswordReset {
		if err := st.DeleteUserTickets(ctx, user.ID, kind); err != nil {
			return "", fmt.Errorf("issue ticket: %w", err)
		}
	}
	tok := token.NewOpaque()
	now := time.Now().UTC()
	t := store.Ticket{
		ID:        token.Hash(tok),
		Kind:      kind,
		UserID:    user.ID,
		Email:     user.Email,
		ClientID:  opts.ClientID,
		RequestID: opts.RequestID,
		ResultURL: opts.ResultURL,
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),

		KeepEmailUnverified: opts.KeepEmailUnverified,
	}
	if err := st.CreateTicket(ctx, t); err != nil {
		return "", fmt.Errorf("issue ticket: %w", err)
	}
	return tok, nil
}

// SetPassword checks password against the policy and makes it the user's,
// hashed with argon2id. The user's reset links are withdrawn: they were
// for the password that is gone. It ends no session; see
// RevokeUserSessions. A refused password is a *PolicyError; a user of
// another connection ErrNotPasswordUser; an unknown one store.ErrNotFound.
func (c *Connector) SetPassword(ctx context.Context, userID, password string) error {
	u, err := c.cfg.Store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	hash, err := c.hashFor(u, password)
	if err != nil {
		return err
	}
	return c.storeHash(ctx, u, hash)
}

// IsPasswordUser reports whether u signs in with a password through this
// connection: only such users have a password to set or reset.
func (c *Connector) IsPasswordUser(u store.User) bool { return u.Connection == c.cfg.Connection }

// hashFor checks that u signs in with a password here and that password
// meets the policy, and hashes it.
func (c *Connector) hashFor(u store.User, password string) (string, error) {
	if !c.IsPasswordUser(u) {
		return "", fmt.Errorf("user %s is of connection %q: %w", u.ID, u.Connection, ErrNotPasswordUser)
	}
	if err := c.CheckPassword(password, u.Email, u.Name, u.Nickname); err != nil {
		return "", err // a *PolicyError
	}
	hash, err := HashPassword(password, c.cfg.Params)
	if err != nil {
		return "", fmt.Errorf("set password: %w", err)
	}
	return hash, nil
}

// storeHash makes hash u's password and withdraws u's reset links.
func (c *Connector) storeHash(ctx context.Context, u store.User, hash string) error {
	if err := c.cfg.Store.SetPassword(ctx, u.ID, hash, c.cfg.Now().UTC()); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := c.cfg.Store.DeleteUserTickets(ctx, u.ID, store.TicketPasswordReset); err != nil {
		return fmt.Errorf("set password: withdraw reset links: %w", err)
	}
	return nil
}

// liveTicket finds the ticket of the token with its user. A ticket whose
// user is gone, or whose user's email has changed since it was sent, is
// store.ErrNotFound: the link went to an address that no longer speaks for
// the account.
func (c *Connector) liveTicket(ctx context.Context, tok, kind string) (store.Ticket, store.User, error) {
	if tok == "" {
		return store.Ticket{}, store.User{}, store.ErrNotFound
	}
	t, err := c.cfg.Store.GetTicket(ctx, token.Hash(tok), kind, c.cfg.Now())
	if err != nil {
		return store.Ticket{}, store.User{}, err
	}
	u, err := c.cfg.Store.GetUser(ctx, t.UserID)
	if err != nil {
		return store.Ticket{}, store.User{}, err
	}
	if !strings.EqualFold(u.Email, t.Email) {
		return store.Ticket{}, store.User{}, fmt.Errorf("email changed since the link was sent: %w", store.ErrNotFound)
	}
	return t, u, nil
}

// CheckResetTicket returns the password-reset ticket of the token and its
// user without using it, for the page that asks for the new password.
// store.ErrNotFound for a forged, expired or withdrawn link;
// store.ErrAlreadyUsed for a used one.
func (c *Connector) CheckResetTicket(ctx context.Context, tok string) (store.Ticket, store.User, error) {
	t, u, err := c.liveTicket(ctx, tok, store.TicketPasswordReset)
	if err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("check reset ticket: %w", err)
	}
	return t, u, nil
}

// CheckVerificationTicket returns the email-verification ticket of the
// token and its user without using it, for the page that asks the user to
// confirm. Errors as CheckResetTicket's.
func (c *Connector) CheckVerificationTicket(ctx context.Context, tok string) (store.Ticket, store.User, error) {
	t, u, err := c.liveTicket(ctx, tok, store.TicketEmailVerification)
	if err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("check verification ticket: %w", err)
	}
	return t, u, nil
}

// ResetPassword sets the password of the reset ticket's user and uses the
// ticket up. The password is checked before the ticket is spent, so a user
// whose password is refused (a *PolicyError) may try again with the same
// link; of two resets racing with one link, one wins and the other gets
// store.ErrAlreadyUsed. It returns the ticket (where to return to) and the
// user. Ending the user's other sessions is the caller's: it may keep the
// one it is about to start (RevokeUserSessions).
func (c *Connector) ResetPassword(ctx context.Context, tok, password string) (store.Ticket, store.User, error) {
	t, u, err := c.liveTicket(ctx, tok, store.TicketPasswordReset)
	if err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("reset password: %w", err)
	}
	// Hashing comes before spending the ticket, so that a refused
	// password leaves the link usable and little can fail after it.
	hash, err := c.hashFor(u, password)
	if err != nil {
		return store.Ticket{}, store.User{}, err
	}
	if _, err := c.cfg.Store.ConsumeTicket(ctx, t.ID, t.Kind, c.cfg.Now()); err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("reset password: %w", err)
	}
	// The ticket is spent: should this fail, the user asks for a new link.
	if err := c.storeHash(ctx, u, hash); err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("reset password: %w", err)
	}
	return t, u, nil
}

// VerifyEmail uses up the email-verification ticket of the token and marks
// its user's email verified. store.ErrNotFound for a forged, expired or
// outdated link (the user's email changed since); store.ErrAlreadyUsed for
// a used one.
func (c *Connector) VerifyEmail(ctx context.Context, tok string) (store.Ticket, store.User, error) {
	t, u, err := c.liveTicket(ctx, tok, store.TicketEmailVerification)
	if err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("verify email: %w", err)
	}
	if _, err := c.cfg.Store.ConsumeTicket(ctx, t.ID, t.Kind, c.cfg.Now()); err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("verify email: %w", err)
	}
	if err := c.cfg.Store.SetEmailVerified(ctx, u.ID, true, c.cfg.Now().UTC()); err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("verify email: %w", err)
	}
	u.EmailVerified = true
	return t, u, nil
}

// RevokeUserSessions signs the user out everywhere but the session
// keepSessionID ("" keeps none): it deletes the sessions and revokes every
// refresh token and opaque access token, and returns how many sessions and
// refresh-token families it ended. JWT access tokens live on until they
// expire. A password reset calls it: whoever knew the old password is
// signed out.
func RevokeUserSessions(ctx context.Context, st store.TicketStore, userID, keepSessionID string) (sessions, families int64, err error) {
	sessions, err = st.DeleteUserSessions(ctx, userID, keepSessionID)
	if err != nil {
		return 0, 0, fmt.Errorf("revoke user sessions: %w", err)
	}
	families, err = st.RevokeUserRefreshTokens(ctx, userID)
	if err != nil {
		return sessions, 0, fmt.Errorf("revoke user sessions: %w", err)
	}
	return sessions, families, nil
}

// Hash returns the argon2id hash of password with the connection's cost,
// for a password that has passed CheckPassword.
func (c *Connector) Hash(password string) (string, error) {
	return HashPassword(password, c.cfg.Params)
}

// Provider is the prefix of the IDs of the connection's users
// ("gatehouse" in "gatehouse|3f2a…").
func (c *Connector) Provider() string { return c.cfg.Provider }
