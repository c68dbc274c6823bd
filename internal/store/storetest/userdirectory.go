package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testSearchUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, email := range []string{"ada@example.com", "adam@example.com", "bob@example.org", "a_b%c@example.com"} {
		u := newUser(fmt.Sprintf("gatehouse|u%d", i), email)
		u.Name = []string{"Ada", "Adam", "Bob", "Ada"}[i]
		must(t, s.CreateUser(ctx, u), "create "+email)
	}
	other := newUser("github|9", "ada@example.com")
	other.Connection = "github"
	other.Identities = []store.Identity{{Connection: "github", Provider: "github", UserID: "9"}}
	must(t, s.CreateUser(ctx, other), "create github user")

	ids := func(us []store.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	tests := []struct {
		name  string
		q     store.UserQuery
		want  []string
		total int
	}{
		{"all", store.UserQuery{}, []string{"gatehouse|u0", "gatehouse|u1", "gatehouse|u2", "gatehouse|u3", "github|9"}, 5},
		{"email exact, any case", store.UserQuery{Email: "ADA@example.com"}, []string{"gatehouse|u0", "github|9"}, 2},
		{"email in a connection", store.UserQuery{Email: "ada@example.com", Connection: "github"}, []string{"github|9"}, 1},
		{"email prefix", store.UserQuery{Email: "ada*"}, []string{"gatehouse|u0", "gatehouse|u1", "github|9"}, 3},
		{"wildcards in a prefix are literal", store.UserQuery{Email: "a_b%*"}, []string{"gatehouse|u3"}, 1},
		{"underscore is not a wildcard", store.UserQuery{Email: "a_*"}, []string{"gatehouse|u3"}, 1},
		{"name and email", store.UserQuery{Name: "Ada", Email: "a*"}, []string{"gatehouse|u0", "gatehouse|u3"}, 2},
		{"name prefix", store.UserQuery{Name: "Ada L*"}, []string{"github|9"}, 1},
		{"name is case-sensitive", store.UserQuery{Name: "ada"}, nil, 0},
		{"id", store.UserQuery{ID: "gatehouse|u2"}, []string{"gatehouse|u2"}, 1},
		{"page", store.UserQuery{Offset: 1, Limit: 2}, []string{"gatehouse|u1", "gatehouse|u2"}, 5},
		{"page past the end", store.UserQuery{Offset: 10, Limit: 2}, nil, 5},
		{"no match", store.UserQuery{Email: "nobody@example.com"}, nil, 0},
	}
	for _, tt := range tests {
		got, total, err := s.SearchUsers(ctx, tt.q)
		must(t, err, tt.name)
		if total != tt.total {
			t.Errorf("%s: total %d, want %d", tt.name, total, tt.total)
		}
		wantEqual(t, ids(got), tt.want, tt.name)
	}
	// The users come back whole, identities included.
	got, _, err := s.SearchUsers(ctx, store.UserQuery{ID: "github|9"})
	must(t, err, "search one user")
	want, err := s.GetUser(ctx, "github|9")
	must(t, err, "get user")
	wantEqual(t, got[0], want, "searched user")
}

func testPatchUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("gatehouse|p1", "p1@example.com")
	must(t, s.CreateUser(ctx, u), "create user")
	must(t, s.CreateUser(ctx, newUser("gatehouse|p2", "p2@example.com")), "create second user")

	got, err := s.PatchUser(ctx, u.ID, func(u *store.User) error {
		u.Name = "Patched"
		u.ID = "gatehouse|other" // ignored
		u.Identities = append(u.Identities, store.Identity{Connection: "github", Provider: "github", UserID: "p1"})
		return nil
	})
	must(t, err, "patch user")
	if got.Name != "Patched" || got.ID != u.ID || len(got.Identities) != 2 {
		t.Fatalf("patched user: %+v", got)
	}
	stored, err := s.GetUser(ctx, u.ID)
	must(t, err, "get patched user")
	wantEqual(t, stored, got, "patched user as stored")

	refusal := errors.New("refused")
	_, err = s.PatchUser(ctx, u.ID, func(u *store.User) error { u.Name = "Lost"; return refusal })
	if err != refusal {
		t.Fatalf("patch refused by fn: got %v, want the fn's error as it is", err)
	}
	stored, err = s.GetUser(ctx, u.ID)
	must(t, err, "get user after refused patch")
	if stored.Name != "Patched" {
		t.Fatalf("refused patch wrote the name %q", stored.Name)
	}
	_, err = s.PatchUser(ctx, "gatehouse|nobody", func(*store.User) error { return nil })
	wantErr(t, err, store.ErrNotFound, "patch unknown user")
	_, err = s.PatchUser(ctx, u.ID, func(u *store.User) error { u.Email = "p2@example.com"; return nil })
	wantErr(t, err, store.ErrConflict, "patch to a taken email")
}

// testPatchUserConcurrent: twenty patches of the same user, each setting a
// key of its own, all survive.
func testPatchUserConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("gatehouse|c1", "c1@example.com")
	u.UserMetadata = map[string]any{}
	must(t, s.CreateUser(ctx, u), "create user")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.PatchUser(ctx, u.ID, func(u *store.User) error {
				if u.UserMetadata == nil {
					u.UserMetadata = map[string]any{}
				}
				u.UserMetadata[fmt.Sprintf("k%d", i)] = float64(i)
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err, "concurrent patch")
	}
	got, err := s.GetUser(ctx, u.ID)
	must(t, err, "get user")
	if len(got.UserMetadata) != n {
		t.Fatalf("after %d concurrent patches the metadata has %d keys: %v", n, len(got.UserMetadata), got.UserMetadata)
	}
}

func testListUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := newSession("s-old", "gatehouse|s1")
	recent := newSession("s-new", "gatehouse|s1")
	recent.CreatedAt = old.CreatedAt.Add(time.Minute)
	expired := newSession("s-expired", "gatehouse|s1")
	expired.ExpiresAt = t0
	for _, sess := range []store.Session{old, recent, expired, newSession("s-other", "gatehouse|s2")} {
		must(t, s.CreateSession(ctx, sess), "create session "+sess.ID)
	}
	got, err := s.ListUserSessions(ctx, "gatehouse|s1", t0)
	must(t, err, "list sessions")
	wantEqual(t, got, []store.Session{recent, old}, "live sessions, newest first")
	got, err = s.ListUserSessions(ctx, "gatehouse|nobody", t0)
	must(t, err, "list sessions of unknown user")
	if len(got) != 0 {
		t.Fatalf("unknown user has sessions: %v", got)
	}
}
