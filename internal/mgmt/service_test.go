package mgmt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

// fakeRings records the algorithms whose key rings were asked for.
type fakeRings struct {
	mu   sync.Mutex // guards algs
	algs []string
	err  error
}

func (f *fakeRings) EnsureAlgorithm(_ context.Context, alg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.algs = append(f.algs, alg)
	return f.err
}

// fakeSealer "seals" by prefixing the additional data, so that a test can
// see what was sealed with which binding.
type fakeSealer struct{}

func (fakeSealer) Seal(plaintext, additionalData []byte) []byte {
	return []byte("sealed(" + string(additionalData) + "):" + string(plaintext))
}

// env is a Service over a real SQLite store.
type env struct {
	svc   *mgmt.Service
	st    store.Store
	rings *fakeRings
	now   time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := &env{st: st, rings: &fakeRings{}, now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	e.svc, err = mgmt.New(mgmt.Config{Store: st, Keys: e.rings, Sealer: fakeSealer{}, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestNewNeedsStore(t *testing.T) {
	if _, err := mgmt.New(mgmt.Config{}); err == nil {
		t.Fatal("New without a store succeeded")
	}
}

// wantError checks that err is a *mgmt.Error with the status, code and
// field, whose message holds msg.
func wantError(t *testing.T, err error, status int, code, field, msg string) {
	t.Helper()
	var me *mgmt.Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T), want a *mgmt.Error", err, err)
	}
	if me.Status != status || me.Code != code || me.Field != field || !strings.Contains(me.Message, msg) {
		t.Errorf("error %+v, want status %d, code %s, field %q, message with %q", *me, status, code, field, msg)
	}
}

func ptr[T any](v T) *T { return &v }
