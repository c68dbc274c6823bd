package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/store/storetest"
)

// newStore opens a fresh store in a new directory that Open must create.
func newStore(t testing.TB) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "data", "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestConcurrency(t *testing.T) {
	storetest.RunConcurrency(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	type applied struct {
		version   int
		name      string
		appliedAt int64
	}
	read := func(db *DB) []applied {
		t.Helper()
		rows, err := db.read.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var as []applied
		for rows.Next() {
			var a applied
			if err := rows.Scan(&a.version, &a.name, &a.appliedAt); err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return as
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	first := read(db)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(ms) {
		t.Fatalf("first open applied %d migrations, want %d", len(first), len(ms))
	}
	client := store.Client{ID: "client-1", Name: "App", Callbacks: []string{"https://app.example/cb"}, CreatedAt: time.UnixMilli(1e12).UTC()}
	if err := db.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	time.Sleep(2 * time.Millisecond) // a second application would record a later applied_at
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if again := read(db); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("schema_migrations after reopen = %v, want %v", again, first)
	}
	got, err := db.GetClient(ctx, client.ID)
	if err != nil {
		t.Fatalf("get client after reopen: %v", err)
	}
	if got.Name != client.Name || !got.CreatedAt.Equal(client.CreatedAt) || len(got.Callbacks) != 1 {
		t.Fatalf("client after reopen = %+v, want %+v", got, client)
	}
}

// TestUpgradeFrom0001 opens a database written by the first schema: its rows
// read back with the zero values of the later fields, the signing-key ring
// of 0001 becomes the ring of its algorithm, its clients keep logging in
// with the built-in database connection of 0003, and its users can join
// organizations of 0004 and leave them when deleted.
func TestUpgradeFrom0001(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	old, err := sql.Open("sqlite", dsn(path, url.Values{"_txlock": {"immediate"}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := applyAll(ctx, old, ms[:1]); err != nil {
		t.Fatal(err)
	}
	created := time.UnixMilli(1e12).UTC()
	for _, q := range []string{
		`INSERT INTO clients VALUES ('client-1', 'sha256:x', 'App', 'regular_web', '["https://app.example/cb"]',
			'[]', '["authorization_code","refresh_token"]', 1, 1, 1000000000000)`,
		`INSERT INTO refresh_tokens VALUES ('rt-1', 'grant-1', 'client-1', 'gatehouse|ada', 'session-1',
			'["openid","offline_access"]', '', 1000000000000, 1000000000000, 1000003600000, NULL, 0)`,
		`INSERT INTO signing_keys VALUES ('rs-1', 'RS256', 'current', x'00', x'7b7d', 1000000000000, NULL)`,
		`INSERT INTO signing_keys VALUES ('rs-2', 'RS256', 'next', x'00', x'7b7d', 1000000000000, NULL)`,
		`INSERT INTO clients VALUES ('client-2', 'sha256:y', 'Other', 'regular_web', '[]',
			'[]', '["authorization_code"]', 0, 0, 1000000000000)`,
		// A request in flight during the upgrade; it expires in 9999.
		`INSERT INTO auth_requests VALUES ('req-1', 'client-1', 'https://app.example/cb', 'query',
			'["openid"]', 'st', 'n', '[]', -1, '', '', '', '', '', 1, 0, 1000000000000, 253402300799000)`,
		// A code issued before the upgrade, redeemed after it.
		`INSERT INTO auth_codes VALUES ('code-1', 'grant-2', 'client-1', 'gatehouse|ada', 'session-1',
			'https://app.example/cb', '["openid"]', 'n', '', 1000000000000, '', '', 1000000000000, 253402300799000, 0)`,
		`INSERT INTO users VALUES ('gatehouse|ada', 'Username-Password-Authentication', 'ada@example.com', 1,
			'', 'Ada', '', '', '', '', 0, 0, NULL, '{}', '{}', 1000000000000, 1000000000000)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open a 0001 database: %v", err)
	}
	defer db.Close()

	c, err := db.GetClient(ctx, "client-1")
	if err != nil {
		t.Fatal(err)
	}
	wantClient := store.Client{ID: "client-1", SecretHash: "sha256:x", Name: "App", Type: "regular_web",
		Callbacks: []string{"https://app.example/cb"}, LogoutURLs: []string{},
		GrantTypes: []string{"authorization_code", "refresh_token"}, FirstParty: true, AllowOfflineAccess: true,
		WebOrigins: []string{}, AllowedOrigins: []string{}, // RequirePKCE stays off for existing apps
		CreatedAt: created}
	if !reflect.DeepEqual(c, wantClient) {
		t.Fatalf("client of 0001 = %+v, want %+v", c, wantClient)
	}

	rt, err := db.GetRefreshToken(ctx, "rt-1")
	if err != nil {
		t.Fatal(err)
	}
	if !rt.FamilyExpiresAt.IsZero() || rt.OverlapUsed || rt.UsedAt != nil || rt.Organization != "" {
		t.Fatalf("refresh token of 0001: FamilyExpiresAt %v, OverlapUsed %v, UsedAt %v, Organization %q; want zero",
			rt.FamilyExpiresAt, rt.OverlapUsed, rt.UsedAt, rt.Organization)
	}
	next := rt
	next.ID, next.FamilyExpiresAt = "rt-2", created.Add(time.Hour)
	if _, err := db.RotateRefreshToken(ctx, rt.ID, next, created.Add(time.Minute), time.Minute, nil); err != nil {
		t.Fatalf("rotate refresh token of 0001: %v", err)
	}

	conn, err := db.GetConnection(ctx, store.DefaultDatabaseConnection)
	if err != nil {
		t.Fatalf("built-in connection after 0003: %v", err)
	}
	if conn.Strategy != store.StrategyDatabase || !reflect.DeepEqual(conn.EnabledClients, []string{"client-1", "client-2"}) {
		t.Fatalf("built-in connection after 0003: strategy %q, enabled for %q; want %q for both clients of 0001",
			conn.Strategy, conn.EnabledClients, store.StrategyDatabase)
	}
	if conn.CreatedAt.Before(time.Now().Add(-time.Hour)) || conn.CreatedAt.After(time.Now()) {
		t.Fatalf("built-in connection after 0003: CreatedAt %v, want the time of the migration", conn.CreatedAt)
	}

	req, err := db.GetAuthRequest(ctx, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if req.UpstreamConnection != "" || req.UpstreamStateHash != "" || req.UpstreamNonce != "" ||
		req.UpstreamVerifier != "" || req.Error != "" || req.ErrorDescription != "" ||
		req.Organization != "" || req.InvitationHash != "" || req.BrowserHash != "" || req.ConsentUserID != "" {
		// A request stored before 0008 is bound to no browser: it cannot be
		// continued, and its user logs in again.
		t.Fatalf("auth request of 0001 = %+v, want empty upstream, error, organization, binding and consent fields", req)
	}
	code, err := db.RedeemCode(ctx, "code-1", created.Add(time.Minute), store.Issued{})
	if err != nil {
		t.Fatalf("redeem a code of 0001: %v", err)
	}
	if code.GrantID != "grant-2" || code.Organization != "" {
		t.Fatalf("code of 0001 = %+v, want grant-2 and no organization", code)
	}

	org := store.Organization{ID: "org_1", Name: "acme", CreatedAt: created, UpdatedAt: created}
	if err := db.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, org.ID, "gatehouse|ada"); err != nil {
		t.Fatalf("add a user of 0001 to an organization: %v", err)
	}
	if err := db.DeleteUser(ctx, "gatehouse|ada"); err != nil {
		t.Fatalf("delete a user of 0001 who is a member: %v", err)
	}
	if members, err := db.ListMembers(ctx, org.ID); err != nil || len(members) != 0 {
		t.Fatalf("members after deleting a user of 0001 = %q, %v; want none", members, err)
	}
	if _, err := db.ConsumeUpstreamState(ctx, "req-1", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("consume the empty upstream state of a 0001 request: got %v, want ErrNotFound", err)
	}

	key := func(id, alg string) store.SigningKey {
		return store.SigningKey{ID: id, Algorithm: alg, PrivateEncrypted: []byte{0}, PublicJWK: []byte("{}"), CreatedAt: created}
	}
	es1 := key("es-1", "ES256")
	if err := db.RotateSigningKeys(ctx, "ES256", "", &es1, key("es-2", "ES256"), time.Time{}, created); err != nil {
		t.Fatalf("first start of ES256 beside the RS256 ring of 0001: %v", err)
	}
	if err := db.RotateSigningKeys(ctx, "RS256", "rs-1", nil, key("rs-3", "RS256"), created.Add(time.Hour), created); err != nil {
		t.Fatalf("rotate the RS256 ring of 0001: %v", err)
	}
	keys, err := db.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := make(map[string]string)
	for _, k := range keys {
		states[k.ID] = k.State
	}
	wantStates := map[string]string{"rs-1": "previous", "rs-2": "current", "rs-3": "next", "es-1": "current", "es-2": "next"}
	if !reflect.DeepEqual(states, wantStates) {
		t.Fatalf("key states = %v, want %v", states, wantStates)
	}
}

// TestTwoHandles opens one file twice, as two processes would, and races
// read-modify-write transactions through both: they must wait for each
// other's write lock (busy_timeout, BEGIN IMMEDIATE) instead of failing.
func TestTwoHandles(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const n = 40
	want := make(map[string]bool)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		db := []*DB{a, b}[i%2]
		scope := fmt.Sprintf("scope:%02d", i)
		want[scope] = true
		wg.Go(func() {
			errs[i] = db.UpsertGrant(ctx, store.Grant{UserID: "u", ClientID: "c", Scopes: []string{scope}})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent upserts through two handles: %v", err)
	}
	g, err := a.GetGrant(ctx, "u", "c", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Scopes) != n {
		t.Fatalf("grant has %d scopes, want %d: %v", len(g.Scopes), n, g.Scopes)
	}
	for _, s := range g.Scopes {
		if !want[s] {
			t.Fatalf("unexpected scope %q", s)
		}
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(ctx, path); err == nil {
		db.Close()
		t.Fatal("opening a database with a newer schema: got no error")
	}
}

func TestOpenBadPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", ":memory:", "file:x.db", filepath.Join(file, "gatehouse.db")} {
		t.Run(fmt.Sprintf("%q", path), func(t *testing.T) {
			if db, err := Open(t.Context(), path); err == nil {
				db.Close()
				t.Fatalf("Open(%q): got no error", path)
			}
		})
	}
}

func TestFixedWindow(t *testing.T) {
	tests := []struct {
		name       string
		window     time.Duration
		now        time.Time
		start, end int64
	}{
		{"on a boundary", time.Minute, time.UnixMilli(120_000), 120_000, 180_000},
		{"inside", time.Minute, time.UnixMilli(179_999), 120_000, 180_000},
		{"before 1970", time.Minute, time.UnixMilli(-1), -60_000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end, err := fixedWindow(tc.window, tc.now)
			if err != nil || start != tc.start || end != tc.end {
				t.Fatalf("fixedWindow(%v, %v) = %d, %d, %v; want %d, %d, nil", tc.window, tc.now, start, end, err, tc.start, tc.end)
			}
		})
	}
	if _, _, err := fixedWindow(time.Microsecond, time.Now()); err == nil {
		t.Fatal("fixedWindow with a sub-millisecond window: got no error")
	}
}

func TestConflictKeepsDriverDetail(t *testing.T) {
	db := newStore(t)
	c := store.Client{ID: "client-1"}
	if err := db.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	err := db.CreateClient(t.Context(), c)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	const want = "create client: already exists"
	if msg := err.Error(); len(msg) <= len(want) || msg[:len(want)] != want {
		t.Fatalf("error %q: want it to start with %q and name the key", msg, want)
	}
}

// BenchmarkRedeemCode is the store's share of an SSO flow: store a code,
// then redeem it with the access token of the response.
func BenchmarkRedeemCode(b *testing.B) {
	db := newStore(b)
	ctx := b.Context()
	now := time.Now()
	i := 0
	for b.Loop() {
		i++
		codeID := fmt.Sprintf("code-%d", i)
		code := store.AuthCode{ID: codeID, GrantID: "grant-" + codeID, ClientID: "client-1", UserID: "gatehouse|ada",
			Scopes: []string{"openid", "profile"}, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := db.CreateCode(ctx, code); err != nil {
			b.Fatal(err)
		}
		access := store.AccessToken{ID: "at-" + codeID, GrantID: code.GrantID, ClientID: "client-1", UserID: "gatehouse|ada",
			Scopes: code.Scopes, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := db.RedeemCode(ctx, codeID, now, store.Issued{Access: &access}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateRefreshToken(b *testing.B) {
	db := newStore(b)
	ctx := b.Context()
	now := time.Now()
	token := func(i int) store.RefreshToken {
		return store.RefreshToken{ID: fmt.Sprintf("rt-%d", i), FamilyID: "grant-1", ClientID: "client-1",
			UserID: "gatehouse|ada", Scopes: []string{"openid", "offline_access"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := db.CreateRefreshToken(ctx, token(0)); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := db.RotateRefreshToken(ctx, token(i).ID, token(i+1), now, 0, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetAccessTokenParallel(b *testing.B) {
	db := newStore(b)
	ctx := b.Context()
	now := time.Now()
	at := store.AccessToken{ID: "at-1", GrantID: "grant-1", ClientID: "client-1", UserID: "gatehouse|ada",
		Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateAccessToken(ctx, at); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.GetAccessToken(ctx, at.ID, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestWALBoundedUnderReads checks that the WAL does not grow without bound
// while readers never stop: passive checkpoints alone cannot rewind it then.
func TestWALBoundedUnderReads(t *testing.T) {
	old := walTruncateFrames
	walTruncateFrames = 256
	t.Cleanup(func() { walTruncateFrames = old })
	dir := t.TempDir()
	path := filepath.Join(dir, "gatehouse.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()
	now := time.Now()

	// Readers that always hold a snapshot of the WAL, as a loaded server's do.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = db.GetAccessToken(ctx, "at-1", now)
			}
		}()
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	// 4,000 inserts append tens of MiB of pages to an unchecked WAL.
	var peak int64
	for i := range 4000 {
		at := store.AccessToken{ID: fmt.Sprintf("at-%d", i), GrantID: fmt.Sprintf("grant-%d", i), ClientID: "client-1",
			UserID: fmt.Sprintf("gatehouse|user-%d", i), Scopes: []string{"openid"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateAccessToken(ctx, at); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, walSize())
	}
	close(stop)
	readers.Wait()
	// 256 frames of 4 KiB, with room for what the writer appends between
	// two checkpoints and while a truncation waits; unchecked, the WAL
	// grows to about 90 MB here.
	const limit = 32 << 20
	t.Logf("peak WAL %d bytes, at the end %d", peak, walSize())
	if peak > limit {
		t.Fatalf("the WAL reached %d bytes under steady reads; want at most %d", peak, limit)
	}
	if _, err := db.GetAccessToken(ctx, "at-3999", now); err != nil {
		t.Fatalf("last token after the checkpoints: %v", err)
	}
}
