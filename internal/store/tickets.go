package store

import (
	"context"
	"time"
)

// Kinds of Ticket.
const (
	// TicketEmailVerification proves that the user reads mail at Email.
	TicketEmailVerification = "email_verification"
	// TicketPasswordReset lets the user choose a new password.
	TicketPasswordReset = "password_reset"
)

// Ticket is a one-time link sent by email. ID is the SHA-256 hash of the
// random token in the link; the token itself is never stored, so a leaked
// database hands out no usable links.
type Ticket struct {
	ID     string // hash of the token in the link
	Kind   string // TicketEmailVerification or TicketPasswordReset
	UserID string
	Email  string // the address the link was sent to
	// ClientID and RequestID, both optional, are the application and the
	// pending authorization request to return to once the ticket is used.
	ClientID  string
	RequestID string
	// ResultURL, optional, is where to send the user afterwards (tickets
	// made through the management API).
	ResultURL string
	CreatedAt time.Time
	ExpiresAt time.Time

	// KeepEmailUnverified makes using a password-reset ticket leave the
	// email unverified: the link was handed out by an administrator, not
	// mailed to the address, so following it proves nothing about the
	// address.
	KeepEmailUnverified bool
}

// TicketStore keeps one-time email tickets, and the narrow account changes
// that using them makes: a new password, a verified email, and the end of
// the user's other sessions and refresh tokens.
//
// Tickets are deleted with their user, and by DeleteExpired once expired.
type TicketStore interface {
	// CreateTicket stores t. ErrConflict on a taken ID; ErrNotFound when
	// the user does not exist.
	CreateTicket(ctx context.Context, t Ticket) error
	// GetTicket returns the live ticket of the kind without using it, so
	// that a page can show a form before the ticket is consumed.
	// ErrNotFound for an unknown or expired ticket or one of another kind;
	// ErrAlreadyUsed for a consumed one.
	GetTicket(ctx context.Context, id, kind string, now time.Time) (Ticket, error)
	// ConsumeTicket marks the ticket used and returns it, atomically: of
	// concurrent consumers exactly one succeeds. Errors as GetTicket's.
	ConsumeTicket(ctx context.Context, id, kind string, now time.Time) (Ticket, error)
	// DeleteUserTickets withdraws the user's unused tickets of the kind,
	// or of every kind when kind is "": a newer link, a successful login
	// or a completed reset makes the older links worthless. Used tickets
	// stay until they expire, so that a second use is still told apart
	// from a forged link. Nothing to delete is no error.
	DeleteUserTickets(ctx context.Context, userID, kind string) error

	// SetPassword replaces the user's password hash and sets UpdatedAt to
	// now, leaving every other field as it is. ErrNotFound.
	SetPassword(ctx context.Context, userID, hash string, now time.Time) error
	// SetEmailVerified sets the user's EmailVerified and UpdatedAt to now,
	// leaving every other field as it is. ErrNotFound.
	SetEmailVerified(ctx context.Context, userID string, verified bool, now time.Time) error

	// DeleteUserSessions deletes the user's sessions but the one with ID
	// exceptSessionID ("" keeps none) and returns how many went.
	DeleteUserSessions(ctx context.Context, userID, exceptSessionID string) (int64, error)
	// RevokeUserRefreshTokens revokes every refresh-token family of the
	// user, as RevokeGrant does one, deletes the user's opaque access
	// tokens, and returns how many families were live before (had a token
	// not yet revoked). A rotation racing with it either fails or has its
	// new token revoked too. JWT access tokens are not stored and live on
	// until they expire.
	RevokeUserRefreshTokens(ctx context.Context, userID string) (int64, error)
}
