package postgres

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres/pgtest"
	"gatehouse/internal/store/storetest"
)

const envDSN = pgtest.EnvDSN

func testDSN(t testing.TB) string     { return pgtest.DSN(t) }
func freshSchema(t testing.TB) string { return pgtest.FreshSchema(t) }

// newStore opens a store in a fresh schema and closes it when the test
// ends.
func newStore(t testing.TB) *DB {
	t.Helper()
	db, err := Open(t.Context(), freshSchema(t), Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the schema's cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t) })
}

func TestConcurrency(t *testing.T) {
	testDSN(t)
	storetest.RunConcurrency(t, func(t *testing.T) store.Store { return newStore(t) })
}

// TestConcurrentOpen starts replicas together on an empty schema: every
// Open succeeds and each migration is applied, and recorded, once.
func TestConcurrentOpen(t *testing.T) {
	dsn := freshSchema(t)
	const n = 4
	dbs := make([]*DB, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = Open(t.Context(), dsn, Options{MaxConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, db := range dbs {
		if errs[i] != nil {
			t.Errorf("open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { db.Close() })
	}
	if t.Failed() {
		return
	}

	rows, err := dbs[0].pool.Query(t.Context(), `SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	type count struct{ Version, N int }
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[count])
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != len(ms) {
		t.Fatalf("schema_migrations has %d versions, want %d: %v", len(counts), len(ms), counts)
	}
	for i, c := range counts {
		if c.Version != ms[i].version || c.N != 1 {
			t.Errorf("schema_migrations row %d: version %d recorded %d times, want version %d once", i, c.Version, c.N, ms[i].version)
		}
	}
	for i, db := range dbs {
		if err := db.CreateClient(t.Context(), store.Client{ID: fmt.Sprintf("client-%d", i)}); err != nil {
			t.Errorf("create client through replica %d: %v", i, err)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	dsn := freshSchema(t)
	ctx := t.Context()
	db, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := store.Client{ID: "client-1", Name: "App", Callbacks: []string{"https://app.example/cb"},
		IDTokenTTL: 90 * time.Minute, Refresh: store.RefreshPolicy{Overlap: 30 * time.Second},
		CreatedAt: time.UnixMilli(1e12).UTC()}
	if err := db.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	got, err := db.GetClient(ctx, client.ID)
	if err != nil {
		t.Fatalf("get client after reopen: %v", err)
	}
	if got.Name != client.Name || !got.CreatedAt.Equal(client.CreatedAt) || got.IDTokenTTL != client.IDTokenTTL ||
		got.Refresh != client.Refresh || len(got.Callbacks) != 1 {
		t.Fatalf("client after reopen = %+v, want %+v", got, client)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	dsn := freshSchema(t)
	db, err := Open(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if db, err := Open(t.Context(), dsn, Options{}); err == nil {
		db.Close()
		t.Fatal("opening a database with a newer schema: got no error")
	}
}

func TestOptions(t *testing.T) {
	dsn := freshSchema(t)
	db, err := Open(t.Context(), dsn, Options{MaxConns: 3, MinConns: 1, StatementTimeout: 1500 * time.Millisecond, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := db.pool.Config()
	if cfg.MaxConns != 3 || cfg.MinConns != 1 || cfg.ConnConfig.ConnectTimeout != 2*time.Second {
		t.Errorf("pool config: max %d, min %d, connect timeout %v; want 3, 1, 2s", cfg.MaxConns, cfg.MinConns, cfg.ConnConfig.ConnectTimeout)
	}
	var timeout, app string
	if err := db.pool.QueryRow(t.Context(), `SELECT current_setting('statement_timeout'), current_setting('application_name')`).Scan(&timeout, &app); err != nil {
		t.Fatal(err)
	}
	if timeout != "1500ms" || app != "gatehouse" {
		t.Errorf("statement_timeout %q, application_name %q; want 1500ms, gatehouse", timeout, app)
	}

	// The timeout cancels a statement on the server.
	_, err = db.pool.Exec(t.Context(), `SELECT pg_sleep(3)`)
	if err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Errorf("3 s statement under a 1.5 s timeout: got %v, want a statement timeout", err)
	}

	for _, bad := range []Options{{MaxConns: -1}, {MinConns: 5, MaxConns: 2}, {StatementTimeout: -time.Second}} {
		if db, err := Open(t.Context(), dsn, bad); err == nil {
			db.Close()
			t.Errorf("Open with %+v: got no error", bad)
		}
	}
}

// TestUnreachable checks that a database that is down fails Open quickly,
// and that the error does not repeat the password.
func TestUnreachable(t *testing.T) {
	const dsn = "postgres://gatehouse:s3cret@127.0.0.1:1/gatehouse?sslmode=disable"
	start := time.Now()
	db, err := Open(t.Context(), dsn, Options{ConnectTimeout: time.Second})
	if err == nil {
		db.Close()
		t.Fatal("Open of an unreachable database: got no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open of an unreachable database took %v", d)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error repeats the password: %v", err)
	}
}

func TestConflictKeepsDetail(t *testing.T) {
	db := newStore(t)
	c := store.Client{ID: "client-1"}
	if err := db.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	err := db.CreateClient(t.Context(), c)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "create client: already exists") || !strings.Contains(msg, "clients_pkey") {
		t.Fatalf("error %q: want the operation, the sentinel and the key", msg)
	}
}

// TestDeleteExpiredBatches deletes more rows than one batch holds, from two
// cleaners at once, as every replica runs one: together they delete each
// expired row once.
func TestDeleteExpiredBatches(t *testing.T) {
	db := newStore(t)
	ctx := t.Context()
	now := time.Now()
	const n = 2*deleteBatch + 500
	if _, err := db.pool.Exec(ctx, `INSERT INTO sessions (id, user_id, auth_time, methods, created_at, expires_at)
		SELECT 'session-' || i, 'gatehouse|ada', $1, '[]', $1, $1 FROM generate_series(1, $2::int) i`,
		now.Add(-time.Hour), n); err != nil {
		t.Fatal(err)
	}
	live := store.Session{ID: "session-live", UserID: "gatehouse|ada", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, live); err != nil {
		t.Fatal(err)
	}

	var counts [2]int64
	var errs [2]error
	var wg sync.WaitGroup
	for i := range counts {
		wg.Go(func() { counts[i], errs[i] = db.DeleteExpired(ctx, now) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	// A cleaner stops at a short batch, which skipping the other's locked
	// rows can cause; a last run picks up what both left.
	rest, err := db.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if total := counts[0] + counts[1] + rest; total != n {
		t.Fatalf("cleaners deleted %d + %d + %d rows, want %d in all", counts[0], counts[1], rest, n)
	}
	if _, err := db.GetSession(ctx, live.ID, now); err != nil {
		t.Fatalf("live session after cleaning: %v", err)
	}
}

// TestReplayAcrossFamily replays several rotated tokens of one family at
// once. Each replay locks its token and then revokes the whole family;
// without the family lock they would take the rows in different orders and
// deadlock (PostgreSQL detects that only after deadlock_timeout, a second).
// Every caller must see reuse or a revoked family.
func TestReplayAcrossFamily(t *testing.T) {
	db := newStore(t)
	ctx := t.Context()
	now := time.Now()
	used := now.Add(-time.Minute)
	const rounds, tokens = 5, 4
	for round := range rounds {
		family := fmt.Sprintf("grant-%d", round)
		for i := range tokens {
			rt := store.RefreshToken{ID: fmt.Sprintf("rt-%d-%d", round, i), FamilyID: family, ClientID: "client-1",
				UserID: "gatehouse|ada", CreatedAt: now, ExpiresAt: now.Add(time.Hour), UsedAt: &used}
			if err := db.CreateRefreshToken(ctx, rt); err != nil {
				t.Fatal(err)
			}
		}
		errs := make([]error, tokens)
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Go(func() {
				next := store.RefreshToken{ID: fmt.Sprintf("rt-%d-%d-next", round, i), FamilyID: family,
					CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				_, errs[i] = db.RotateRefreshToken(ctx, fmt.Sprintf("rt-%d-%d", round, i), next, now, 0, nil)
			})
		}
		wg.Wait()
		reused := 0
		for i, err := range errs {
			switch {
			case errors.Is(err, store.ErrReused):
				reused++
			case errors.Is(err, store.ErrRevoked):
			default:
				t.Fatalf("round %d, replay %d: got %v, want reused or revoked", round, i, err)
			}
		}
		if reused == 0 {
			t.Fatalf("round %d: no replay reported reuse", round)
		}
	}
}

func TestFixedWindow(t *testing.T) {
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	tests := []struct {
		name       string
		window     time.Duration
		now        time.Time
		start, end time.Time
	}{
		{"on a boundary", time.Minute, ms(120_000), ms(120_000), ms(180_000)},
		{"inside", time.Minute, ms(179_999), ms(120_000), ms(180_000)},
		{"before 1970", time.Minute, ms(-1), ms(-60_000), ms(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end, err := fixedWindow(tc.window, tc.now)
			if err != nil || !start.Equal(tc.start) || !end.Equal(tc.end) {
				t.Fatalf("fixedWindow(%v, %v) = %v, %v, %v; want %v, %v, nil", tc.window, tc.now, start, end, err, tc.start, tc.end)
			}
		})
	}
	if _, _, err := fixedWindow(time.Microsecond, time.Now()); err == nil {
		t.Fatal("fixedWindow with a sub-millisecond window: got no error")
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
