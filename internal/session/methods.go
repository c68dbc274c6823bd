package session

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// AddMethods records that the session's user passed more authentication
// methods (a second factor after the password: "otp", "mfa") and returns
// the session as stored. The auth time stays the first factor's: max_age
// and prompt=login ask for a new login, which starts a new session and
// needs the second factor again. store.ErrNotFound when the session ended.
func (m *Manager) AddMethods(ctx context.Context, s store.Session, methods []string) (store.Session, error) {
	s, err := m.Store.AddSessionMethods(ctx, s.ID, methods, m.Now())
	if err != nil {
		return store.Session{}, fmt.Errorf("add session methods: %w", err)
	}
	return s, nil
}
