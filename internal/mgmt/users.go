package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gatehouse/internal/store"
)

// FindUser finds a user by ID ("provider|id") or, without a '|', by the
// email address of a database user.
func (s *Service) FindUser(ctx context.Context, idOrEmail string) (store.User, error) {
	var u store.User
	var err error
	if strings.Contains(idOrEmail, "|") {
		u, err = s.st.GetUser(ctx, idOrEmail)
	} else {
		u, err = s.st.GetUserByEmail(ctx, store.DefaultDatabaseConnection, strings.ToLower(idOrEmail))
	}
	if err != nil {
		return store.User{}, notFound(err, "user", idOrEmail)
	}
	return u, nil
}

// GetUser returns the user with the ID.
func (s *Service) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := s.st.GetUser(ctx, id)
	if err != nil {
		return store.User{}, notFound(err, "user", id)
	}
	return u, nil
}

// ListUsers returns every user.
func (s *Service) ListUsers(ctx context.Context) ([]store.User, error) {
	return s.st.ListUsers(ctx)
}

// UserSettings are the settings of a user that update takes; a nil field
// keeps its value.
type UserSettings struct {
	Name          *string
	Blocked       *bool
	EmailVerified *bool
	AppMetadata   *map[string]any // replaces it
	UserMetadata  *map[string]any // replaces it
}

// UpdateUser changes the settings that are set, in one transaction with
// the read, so a concurrent change of another field is kept.
func (s *Service) UpdateUser(ctx context.Context, id string, in UserSettings) (store.User, error) {
	u, err := s.st.PatchUser(ctx, id, func(u *store.User) error {
		set(&u.Name, in.Name)
		set(&u.Blocked, in.Blocked)
		set(&u.EmailVerified, in.EmailVerified)
		set(&u.AppMetadata, in.AppMetadata)
		set(&u.UserMetadata, in.UserMetadata)
		u.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		return store.User{}, notFound(err, "user", id)
	}
	return u, nil
}

// LinkUsers merges the secondary user into the primary: the explicit
// account linking that Gatehouse never does by itself on matching emails.
// It returns the primary as it is now.
func (s *Service) LinkUsers(ctx context.Context, primaryID, secondaryID string) (store.User, error) {
	if primaryID == secondaryID {
		return store.User{}, invalid("user_id", "linking needs two different users")
	}
	u, err := s.st.LinkUsers(ctx, primaryID, secondaryID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, &Error{Status: http.StatusNotFound, Code: "inexistent_user", Message: fmt.Sprintf("%q or %q not found", primaryID, secondaryID), err: err}
	}
	if err != nil {
		return store.User{}, fmt.Errorf("link users: %w", err)
	}
	return u, nil
}

// DeleteUser removes the user and everything issued to them.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	if err := s.queueLogouts(ctx, "", id); err != nil {
		return err
	}
	if err := s.st.DeleteUser(ctx, id); err != nil {
		return notFound(err, "user", id)
	}
	return nil
}
