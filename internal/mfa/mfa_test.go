package mfa_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/postgres/pgtest"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// issuer is the issuer of every test Service: its host is the relying
// party ID and its origin the one origin accepted.
const (
	issuer = "https://id.example.com"
	rpID   = "id.example.com"
	origin = "https://id.example.com"
)

// t0 is the tests' clock: the middle of a TOTP step.
var t0 = time.Date(2031, time.March, 14, 15, 9, 15, 0, time.UTC)

// clock is a settable clock for a Service.
type clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// backends runs f against a fresh SQLite store and, when the test
// database is there (always under CI), a fresh PostgreSQL schema.
func backends(t *testing.T, f func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "g.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := postgres.Open(t.Context(), pgtest.FreshSchema(t), postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
}

// newService returns a Service over st for the test issuer, on clk.
func newService(t *testing.T, st store.Store, clk *clock) *mfa.Service {
	t.Helper()
	sealer, err := token.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := mfa.New(mfa.Config{Issuer: issuer, Name: "Gatehouse Test", Store: st, Sealer: sealer, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newUser stores a user and returns it.
func newUser(t *testing.T, st store.Store, id, email string) store.User {
	t.Helper()
	u := store.User{ID: id, Connection: store.DefaultDatabaseConnection, Email: email, Name: "User " + id,
		CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}
