package loadtest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// testRedirectURI is the client's callback. Nothing listens there: the
// driver stops at the redirect.
const testRedirectURI = "http://127.0.0.1:9/callback"

// testPassword is every test user's password.
const testPassword = "correct horse battery staple"

// gatehouse is a real Gatehouse server on a loopback port, wired as
// "gatehouse serve" wires it.
type gatehouse struct {
	issuer string
	st     store.Store
	keys   *token.Keys
	cfg    config.Config
	// clientID and secret are a registered third-party client, so that
	// the consent page shows, allowed offline access.
	clientID, secret string
	// m2mID and m2mSecret are a machine-to-machine application granted
	// read:users of the management API.
	m2mID, m2mSecret string
}

// startGatehouse starts a server with a fresh database and users
// user1@example.com … user<users>@example.com; tweak may change the
// configuration first.
func startGatehouse(t testing.TB, users int, tweak func(*config.Config)) *gatehouse {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Addr = ln.Addr().String()
	cfg.Issuer = "http://" + cfg.Addr
	cfg.Log.Level = "warn"
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	sealer, err := token.NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeys(st, sealer, token.KeyOptions{Algorithm: cfg.SigningAlgorithm, CacheTTL: cfg.Tokens.KeysCacheTTL.D()})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Init(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(cfg, st, keys, log)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	g := &gatehouse{issuer: cfg.Issuer, st: st, keys: keys, cfg: cfg}
	svc, err := mgmt.New(mgmt.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	// PKCE optional, so that the scenarios run with and without it.
	name, offline, pkce := "Load test", true, false
	c, secret, err := svc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{
		Name: &name, Callbacks: &[]string{testRedirectURI}, AllowOfflineAccess: &offline, RequirePKCE: &pkce}})
	if err != nil {
		t.Fatal(err)
	}
	g.clientID, g.secret = c.ID, secret
	msvc, err := mgmt.New(mgmt.Config{Store: st, Issuer: cfg.Issuer})
	if err != nil {
		t.Fatal(err)
	}
	m2mName, m2m := "Load test back end", store.ClientM2M
	mc, msecret, err := msvc.CreateClient(ctx, mgmt.NewClient{ClientSettings: mgmt.ClientSettings{Name: &m2mName, Type: &m2m}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := msvc.CreateClientGrant(ctx, mgmt.NewClientGrant{ClientID: mc.ID,
		Audience: store.ManagementAudience(cfg.Issuer), Scopes: []string{"read:users"}}); err != nil {
		t.Fatal(err)
	}
	g.m2mID, g.m2mSecret = mc.ID, msecret
	db, err := database.Open(database.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= users; n++ {
		if _, err := db.SignUp(ctx, fmt.Sprintf("user%d@example.com", n), testPassword, ""); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// testLogWriter sends the server's warnings to the test log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
