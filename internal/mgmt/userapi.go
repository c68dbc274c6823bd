package mgmt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
)

// MaxMetadataBytes bounds the JSON of a user's app_metadata and
// user_metadata each, as the hosted service does (16 KB).
const MaxMetadataBytes = 16 << 10

// NewUser is a user to create in a database connection.
type NewUser struct {
	Connection string // required: a connection of strategy database
	Email      string // required
	// Password is optional: without one the user cannot log in until they
	// set one through a password-change ticket or "Forgot password".
	Password      string
	UserID        string // the part after "provider|"; generated when empty
	EmailVerified bool
	Blocked       bool
	Name          string
	Nickname      string
	GivenName     string
	FamilyName    string
	Picture       string
	AppMetadata   map[string]any
	UserMetadata  map[string]any
}

// userIDPart reports whether s may follow "provider|" in a user ID.
func userIDPart(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e || r == '|' {
			return false
		}
	}
	return true
}

// CreateUser creates a user in a database connection, with a password or
// without one.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (store.User, error) {
	if in.Connection == "" {
		return store.User{}, invalid("connection", "connection is required")
	}
	conn, err := s.st.GetConnection(ctx, in.Connection)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, invalid("connection", "connection %q does not exist", in.Connection)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get connection: %w", err)
	}
	if conn.Strategy != store.StrategyDatabase {
		return store.User{}, refused("connection", "users of connection %q come from its provider; only database connections take new users", in.Connection)
	}
	email, err := database.NormalizeEmail(in.Email)
	if err != nil {
		return store.User{}, invalid("email", "email: %v", err)
	}
	if in.UserID != "" && !userIDPart(in.UserID) {
		return store.User{}, invalid("user_id", "user_id must be 1 to 128 printable characters without '|' or spaces")
	}
	if err := checkMetadata(in.AppMetadata, "app_metadata"); err != nil {
		return store.User{}, err
	}
	if err := checkMetadata(in.UserMetadata, "user_metadata"); err != nil {
		return store.User{}, err
	}
	if err := checkPicture(in.Picture); err != nil {
		return store.User{}, err
	}
	if s.pw == nil {
		return store.User{}, errors.New("create user: the service has no password policy")
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = email
	}
	nickname := strings.TrimSpace(in.Nickname)
	if nickname == "" {
		nickname, _, _ = strings.Cut(email, "@")
	}
	hash := ""
	if in.Password != "" {
		if err := s.pw.CheckPassword(in.Password, email, name, nickname); err != nil {
			return store.User{}, passwordRefused(err)
		}
		if hash, err = s.pw.Hash(in.Password); err != nil {
			return store.User{}, err
		}
	}
	idPart := in.UserID
	if idPart == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		idPart = hex.EncodeToString(b)
	}
	provider := s.pw.Provider()
	now := s.now()
	u := store.User{
		ID: provider + "|" + idPart, Connection: conn.Name, Email: email, EmailVerified: in.EmailVerified,
		PasswordHash: hash, Name: name, Nickname: nickname, GivenName: strings.TrimSpace(in.GivenName),
		FamilyName: strings.TrimSpace(in.FamilyName), Picture: in.Picture, Blocked: in.Blocked,
		AppMetadata: in.AppMetadata, UserMetadata: in.UserMetadata,
		Identities: []store.Identity{{Connection: conn.Name, Provider: provider, UserID: idPart}},
		CreatedAt:  now, UpdatedAt: now,
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return store.User{}, conflict(err, "a user with this email or user_id in connection %q", conn.Name)
	}
	return u, nil
}

// passwordRefused turns a password policy refusal into a 400 that says
// what to change (Auth0's errorCode "PasswordStrengthError").
func passwordRefused(err error) error {
	var pe *database.PolicyError
	if errors.As(err, &pe) {
		return &Error{Status: http.StatusBadRequest, Code: "PasswordStrengthError", Field: "password", Message: pe.Error(), err: err}
	}
	return err
}

// checkMetadata bounds a metadata object.
func checkMetadata(m map[string]any, field string) error {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return invalid(field, "%s: %v", field, err)
	}
	if len(b) > MaxMetadataBytes {
		return invalid(field, "%s is %d bytes; at most %d are allowed", field, len(b), MaxMetadataBytes)
	}
	return nil
}

func checkPicture(p string) error {
	if p == "" {
		return nil
	}
	u, err := url.Parse(p)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(p) > 2048 {
		return invalid("picture", "picture must be an http(s) URL")
	}
	return nil
}

// UserPatch is a change to a user as the management API's PATCH takes it:
// a nil field is kept. AppMetadata and UserMetadata are merged into the
// stored objects key by key, a nil value removing its key; an empty (not
// nil) map clears the object.
type UserPatch struct {
	Email         *string
	EmailVerified *bool
	Password      *string
	Blocked       *bool
	Name          *string
	Nickname      *string
	GivenName     *string
	FamilyName    *string
	Picture       *string
	AppMetadata   map[string]any
	UserMetadata  map[string]any
	// Connection names the connection whose email or password changes;
	// when given it must be the user's.
	Connection *string
}

// PatchUser applies p to the user in one transaction: concurrent patches
// of different fields (or metadata keys) are all kept.
func (s *Service) PatchUser(ctx context.Context, id string, p UserPatch) (store.User, error) {
	// Everything that can be checked without the user is checked first.
	var email string
	if p.Email != nil {
		e, err := database.NormalizeEmail(*p.Email)
		if err != nil {
			return store.User{}, invalid("email", "email: %v", err)
		}
		email = e
	}
	if p.Picture != nil {
		if err := checkPicture(*p.Picture); err != nil {
			return store.User{}, err
		}
	}
	u, err := s.st.PatchUser(ctx, id, func(u *store.User) error {
		if p.Connection != nil && *p.Connection != u.Connection {
			return invalid("connection", "user %s is of connection %q, not %q", u.ID, u.Connection, *p.Connection)
		}
		if (p.Email != nil || p.Password != nil) && !s.isDatabaseUser(ctx, *u) {
			field := "email"
			if p.Email == nil {
				field = "password"
			}
			return refused(field, "the %s of a user of connection %q is its provider's", field, u.Connection)
		}
		if p.Email != nil && email != u.Email {
			u.Email = email
			u.EmailVerified = false // unless the patch says otherwise, below
		}
		set(&u.EmailVerified, p.EmailVerified)
		set(&u.Blocked, p.Blocked)
		if p.Name != nil {
			u.Name = strings.TrimSpace(*p.Name)
		}
		if p.Nickname != nil {
			u.Nickname = strings.TrimSpace(*p.Nickname)
		}
		if p.GivenName != nil {
			u.GivenName = strings.TrimSpace(*p.GivenName)
		}
		if p.FamilyName != nil {
			u.FamilyName = strings.TrimSpace(*p.FamilyName)
		}
		set(&u.Picture, p.Picture)
		u.AppMetadata = mergeMetadata(u.AppMetadata, p.AppMetadata)
		u.UserMetadata = mergeMetadata(u.UserMetadata, p.UserMetadata)
		if err := checkMetadata(u.AppMetadata, "app_metadata"); err != nil {
			return err
		}
		if err := checkMetadata(u.UserMetadata, "user_metadata"); err != nil {
			return err
		}
		if p.Password != nil {
			if s.pw == nil {
				return errors.New("patch user: the service has no password policy")
			}
			if err := s.pw.CheckPassword(*p.Password, u.Email, u.Name, u.Nickname); err != nil {
				return passwordRefused(err)
			}
			hash, err := s.pw.Hash(*p.Password)
			if err != nil {
				return err
			}
			u.PasswordHash = hash
		}
		u.UpdatedAt = s.now()
		return nil
	})
	var me *Error
	if errors.As(err, &me) {
		return store.User{}, err
	}
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, conflict(err, "a user with email %q", email)
	}
	if err != nil {
		return store.User{}, notFound(err, "user", id)
	}
	return u, nil
}

// isDatabaseUser reports whether u signs in with a password here.
func (s *Service) isDatabaseUser(ctx context.Context, u store.User) bool {
	c, err := s.st.GetConnection(ctx, u.Connection)
	return err == nil && c.Strategy == store.StrategyDatabase
}

// mergeMetadata merges patch into stored as the management API does: key
// by key at the top level, nil removing the key, and an empty patch
// clearing the object. A nil patch keeps stored.
func mergeMetadata(stored, patch map[string]any) map[string]any {
	if patch == nil {
		return stored
	}
	if len(patch) == 0 {
		return map[string]any{}
	}
	out := maps.Clone(stored)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// SearchUsers returns a page of the users matching q and the number of
// matches.
func (s *Service) SearchUsers(ctx context.Context, q store.UserQuery) ([]store.User, int, error) {
	users, total, err := s.st.SearchUsers(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", err)
	}
	return users, total, nil
}

// UsersByEmail returns the users with the email address, in every
// connection.
func (s *Service) UsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	if strings.TrimSpace(email) == "" || strings.HasSuffix(email, "*") {
		return nil, invalid("email", "email is required and must be an address")
	}
	users, _, err := s.st.SearchUsers(ctx, store.UserQuery{Email: email})
	if err != nil {
		return nil, fmt.Errorf("users by email: %w", err)
	}
	return users, nil
}

// UnlinkIdentity detaches a linked identity (not the user's own, the
// first) from the user. As on the hosted service, the identity becomes a
// user of its own again ("provider|user_id"), with an empty profile that
// its next login fills. It returns the identities the user keeps.
func (s *Service) UnlinkIdentity(ctx context.Context, userID, provider, providerUserID string) ([]store.Identity, error) {
	var gone store.Identity
	u, err := s.st.PatchUser(ctx, userID, func(u *store.User) error {
		i := slices.IndexFunc(u.Identities, func(id store.Identity) bool {
			return id.Provider == provider && id.UserID == providerUserID
		})
		switch {
		case i < 0:
			return &Error{Status: http.StatusNotFound, Code: "inexistent_identity",
				Message: fmt.Sprintf("user %s has no identity %s|%s", userID, provider, providerUserID)}
		case i == 0:
			return refused("user_id", "the user's own identity cannot be unlinked; delete the user instead")
		}
		gone = u.Identities[i]
		u.Identities = slices.Delete(u.Identities, i, i+1)
		u.UpdatedAt = s.now()
		return nil
	})
	var me *Error
	if errors.As(err, &me) {
		return nil, err
	}
	if err != nil {
		return nil, notFound(err, "user", userID)
	}
	now := s.now()
	standalone := store.User{ID: gone.Provider + "|" + gone.UserID, Connection: gone.Connection,
		Identities: []store.Identity{gone}, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateUser(ctx, standalone); err != nil {
		// The identity is detached; without a user of its own, its next
		// login creates one.
		return u.Identities, fmt.Errorf("unlink identity: create the standalone user: %w", err)
	}
	return u.Identities, nil
}

// ListUserFactors returns the user's second factors and passkeys.
func (s *Service) ListUserFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	f, err := s.st.ListFactors(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list factors: %w", err)
	}
	return f, nil
}

// DeleteUserFactor removes one of the user's factors.
func (s *Service) DeleteUserFactor(ctx context.Context, userID, factorID string) error {
	if err := s.st.DeleteFactor(ctx, userID, factorID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Status: http.StatusNotFound, Code: "inexistent_authentication_method",
				Message: fmt.Sprintf("authentication method %q of user %q not found", factorID, userID), err: err}
		}
		return fmt.Errorf("delete factor: %w", err)
	}
	return nil
}

// DeleteUserFactors removes all of the user's factors.
func (s *Service) DeleteUserFactors(ctx context.Context, userID string) error {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return err
	}
	if _, err := s.st.DeleteFactors(ctx, userID); err != nil {
		return fmt.Errorf("delete factors: %w", err)
	}
	return nil
}

// ListUserSessions returns the user's live sessions.
func (s *Service) ListUserSessions(ctx context.Context, userID string) ([]store.Session, error) {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return nil, err
	}
	out, err := s.st.ListUserSessions(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// DeleteUserSessions ends every session of the user and revokes their
// refresh tokens, so that nothing the sessions issued keeps them logged in.
func (s *Service) DeleteUserSessions(ctx context.Context, userID string) error {
	if _, err := s.GetUser(ctx, userID); err != nil {
		return err
	}
	if err := s.queueLogouts(ctx, "", userID); err != nil {
		return err
	}
	if _, err := s.st.DeleteUserSessions(ctx, userID, ""); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	if _, err := s.st.RevokeUserRefreshTokens(ctx, userID); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

// DeleteSession ends one session by its ID.
func (s *Service) DeleteSession(ctx context.Context, id string) error {
	if err := s.queueLogouts(ctx, id, ""); err != nil {
		return err
	}
	if err := s.st.DeleteSession(ctx, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
