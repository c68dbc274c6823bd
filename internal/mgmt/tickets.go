package mgmt

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
)

// maxTicketTTL is the longest a ticket made here may live (the database
// connector's bound).
const maxTicketTTL = 30 * 24 * time.Hour

// PasswordChangeTicket asks for a link that lets a user choose a new
// password. The user is named by UserID, or by Email in the database
// connection Connection.
type PasswordChangeTicket struct {
	UserID     string
	Email      string
	Connection string
	// ClientID, optional, is the application whose name the page shows.
	ClientID string
	// ResultURL, optional, is where the browser goes once the password is
	// set; IncludeEmail adds the user's address to it as "email".
	ResultURL    string
	IncludeEmail bool
	// TTL is how long the link works: up to 30 days, the reset default
	// (database.DefaultResetTTL) when zero.
	TTL time.Duration
	// MarkEmailVerified makes setting the password verify the address.
	// Off, the address stays as it is: whoever holds a link handed out
	// rather than mailed has proved nothing about it.
	MarkEmailVerified bool
}

// EmailVerificationTicket asks for a link that verifies a user's email
// address.
type EmailVerificationTicket struct {
	UserID       string
	ClientID     string
	ResultURL    string
	IncludeEmail bool
	// TTL is up to 30 days, the verification default
	// (database.DefaultVerificationTTL) when zero.
	TTL time.Duration
}

// CreatePasswordChangeTicket returns a one-time link to the hosted page
// that sets a new password for a user of a database connection. Any older
// reset link of the user stops working.
func (s *Service) CreatePasswordChangeTicket(ctx context.Context, in PasswordChangeTicket) (string, error) {
	var u store.User
	var err error
	switch {
	case in.UserID != "" && (in.Email != "" || in.Connection != ""):
		return "", invalid("user_id", "give user_id, or email with connection_id, not both")
	case in.UserID != "":
		u, err = s.GetUser(ctx, in.UserID)
	case in.Email != "" && in.Connection != "":
		u, err = s.databaseUserByEmail(ctx, in.Connection, in.Email)
	default:
		return "", invalid("user_id", "user_id, or email with connection_id, is required")
	}
	if err != nil {
		return "", err
	}
	if !s.isDatabaseUser(ctx, u) {
		return "", refused("user_id", "user %s signs in through %s, which has no password to change", u.ID, u.Connection)
	}
	if u.Email == "" {
		return "", refused("user_id", "user %s has no email address", u.ID)
	}
	opts, err := s.ticketOptions(ctx, in.ClientID, in.ResultURL, in.IncludeEmail, u)
	if err != nil {
		return "", err
	}
	opts.KeepEmailUnverified = !in.MarkEmailVerified
	return s.issueTicket(ctx, store.TicketPasswordReset, u, in.TTL, database.DefaultResetTTL, opts)
}

// CreateEmailVerificationTicket returns a one-time link to the hosted page
// that verifies a user's email address, of any connection.
func (s *Service) CreateEmailVerificationTicket(ctx context.Context, in EmailVerificationTicket) (string, error) {
	if in.UserID == "" {
		return "", invalid("user_id", "user_id is required")
	}
	u, err := s.GetUser(ctx, in.UserID)
	if err != nil {
		return "", err
	}
	if u.Email == "" {
		return "", refused("user_id", "user %s has no email address to verify", u.ID)
	}
	opts, err := s.ticketOptions(ctx, in.ClientID, in.ResultURL, in.IncludeEmail, u)
	if err != nil {
		return "", err
	}
	return s.issueTicket(ctx, store.TicketEmailVerification, u, in.TTL, database.DefaultVerificationTTL, opts)
}

// databaseUserByEmail finds a user by email in a database connection.
func (s *Service) databaseUserByEmail(ctx context.Context, connection, email string) (store.User, error) {
	c, err := s.GetConnection(ctx, connection)
	if err != nil {
		return store.User{}, err
	}
	if c.Strategy != store.StrategyDatabase {
		return store.User{}, refused("connection_id", "connection %s is not a database connection: its users have no password here", c.Name)
	}
	u, err := s.st.GetUserByEmail(ctx, c.Name, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return store.User{}, notFound(err, "user", email)
	}
	return u, nil
}

// ticketOptions checks the application and the result URL of a ticket.
func (s *Service) ticketOptions(ctx context.Context, clientID, resultURL string, includeEmail bool, u store.User) (database.TicketOptions, error) {
	var opts database.TicketOptions
	if clientID != "" {
		c, err := s.GetClient(ctx, clientID)
		if err != nil {
			return opts, err
		}
		opts.ClientID = c.ID
	}
	if resultURL == "" {
		if includeEmail {
			return opts, invalid("includeEmailInRedirect", "includeEmailInRedirect needs a result_url")
		}
		return opts, nil
	}
	ru, err := url.Parse(resultURL)
	if err != nil || !ru.IsAbs() || ru.Host == "" || (ru.Scheme != "https" && ru.Scheme != "http") || ru.User != nil {
		return opts, invalid("result_url", "result_url %q must be an absolute http or https URL", resultURL)
	}
	if includeEmail {
		q := ru.Query()
		q.Set("email", u.Email)
		ru.RawQuery = q.Encode()
	}
	opts.ResultURL = ru.String()
	return opts, nil
}

// issueTicket stores the ticket and returns its link.
func (s *Service) issueTicket(ctx context.Context, kind string, u store.User, ttl, def time.Duration, opts database.TicketOptions) (string, error) {
	if s.issuer == "" {
		return "", errors.New("create ticket: the service has no issuer to build links with")
	}
	if ttl == 0 {
		ttl = def
	}
	if ttl < time.Second || ttl > maxTicketTTL {
		return "", invalid("ttl_sec", "ttl_sec must be between 1 second and 30 days")
	}
	tok, err := database.IssueTicketWith(ctx, s.st, kind, u, ttl, opts)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) { // the user went meanwhile
			return "", notFound(err, "user", u.ID)
		}
		return "", err
	}
	return database.TicketURL(s.issuer, kind, tok)
}
