package database

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/connector"
	"gatehouse/internal/store"
)

// Config configures the database connection.
type Config struct {
	Store      store.Store
	Connection string // connection name; default store.DefaultDatabaseConnection
	Provider   string // user id prefix; default "gatehouse"
	Params     Params // argon2id cost; default OWASP
	MinLength  int    // minimum password length; default DefaultMinLength, at most 64
	Now        func() time.Time
}

// Connector is the database connection.
type Connector struct {
	cfg Config

	dummyOnce sync.Once // guards dummy
	dummy     string    // a hash verified for unknown users so timing does not reveal them
}

var _ connector.PasswordConnector = (*Connector)(nil)

// Open validates cfg and returns the connector.
func Open(cfg Config) (*Connector, error) {
	if cfg.Store == nil {
		return nil, errors.New("database connection: no store")
	}
	if cfg.Connection == "" {
		cfg.Connection = store.DefaultDatabaseConnection
	}
	if cfg.Provider == "" {
		cfg.Provider = "gatehouse"
	}
	if strings.Contains(cfg.Provider, "|") {
		return nil, fmt.Errorf("database connection: provider %q contains '|'", cfg.Provider)
	}
	if cfg.Params == (Params{}) {
		cfg.Params = OWASP
	}
	if cfg.MinLength == 0 {
		cfg.MinLength = DefaultMinLength
	}
	if cfg.MinLength < 1 || cfg.MinLength > 64 { // NIST SP 800-63B: passwords of 64 characters are always allowed
		return nil, fmt.Errorf("database connection: minimum password length %d is not between 1 and 64", cfg.MinLength)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Connector{cfg: cfg}, nil
}

// NormalizeEmail validates an email address and lower-cases it.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email, "@") || len(email) > 254 {
		return "", fmt.Errorf("%q is not a valid email address", email)
	}
	return strings.ToLower(email), nil
}

// CheckPassword enforces the password policy (see Policy) for a new
// password of the account with this email address and names (the user's
// name, nickname; any may be empty). A rejection is a *PolicyError whose
// message, shown to the user, says what to change.
func (c *Connector) CheckPassword(password, email string, names ...string) error {
	return Policy{MinLength: c.cfg.MinLength}.Check(password, email, names...)
}

// Login checks the credentials. A refusal is a *connector.CredentialsError
// that names the user whose password was wrong, for the audit log.
func (c *Connector) Login(ctx context.Context, email, password string) (store.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := c.cfg.Store.GetUserByEmail(ctx, c.cfg.Connection, email)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.PasswordHash == "") {
		c.burn(password)
		return store.User{}, &connector.CredentialsError{}
	}
	if err != nil {
		return store.User{}, fmt.Errorf("login: %w", err)
	}
	ok, cheap, err := verify(password, u.PasswordHash)
	if cheap {
		// An imported hash of a fast function (salted SHA-256, …) would
		// answer quicker than argon2id and tell an attacker that the
		// account exists: spend the difference.
		c.burn(password)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("login: verify password of %s: %w", u.ID, err)
	}
	if !ok {
		return store.User{}, &connector.CredentialsError{UserID: u.ID}
	}
	if u.Blocked {
		return store.User{}, connector.ErrBlocked
	}
	if NeedsRehash(u.PasswordHash, c.cfg.Params) {
		u = c.rehash(ctx, u, password)
	}
	return u, nil
}

// rehash replaces the hash of a user who has just logged in, imported or
// made with other parameters, with an argon2id hash of the password at the
// connector's parameters, and returns the user as it is now.
// It is best effort: the login succeeds either way, and a failure leaves
// the imported hash, which still verifies, for the next login to replace.
func (c *Connector) rehash(ctx context.Context, u store.User, password string) store.User {
	hash, err := HashPassword(password, c.cfg.Params)
	if err != nil {
		return u
	}
	// Compare-and-set: a password changed since the user was read stays.
	if err := c.cfg.Store.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, hash); err != nil {
		return u
	}
	u.PasswordHash = hash
	return u
}

// burn spends the time of one verification so unknown emails answer as
// slowly as wrong passwords.
func (c *Connector) burn(password string) {
	c.dummyOnce.Do(func() { c.dummy, _ = HashPassword("gatehouse-dummy-password", c.cfg.Params) })
	_, _ = VerifyPassword(password, c.dummy)
}

// SignUp creates a database user.
func (c *Connector) SignUp(ctx context.Context, email, password, name string) (store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	if err := c.CheckPassword(password, email, name); err != nil {
		return store.User{}, err
	}
	hash, err := HashPassword(password, c.cfg.Params)
	if err != nil {
		return store.User{}, err
	}
	id := newID()
	now := c.cfg.Now().UTC()
	name = strings.TrimSpace(name)
	if name == "" {
		name = email
	}
	u := store.User{
		ID:           c.cfg.Provider + "|" + id,
		Connection:   c.cfg.Connection,
		Email:        email,
		PasswordHash: hash,
		Name:         name,
		Nickname:     strings.SplitN(email, "@", 2)[0],
		Identities:   []store.Identity{{Connection: c.cfg.Connection, Provider: c.cfg.Provider, UserID: id}},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := c.cfg.Store.CreateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("sign up: %w", err)
	}
	return u, nil
}

// newID returns 12 random bytes in hex, the id part of a user id.
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
