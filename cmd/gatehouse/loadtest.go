package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/loadtest"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// loadtestAppName marks the client --setup-db registers, so that it never
// replaces an application it did not create.
const loadtestAppName = "Gatehouse load test"

func cmdLoadtest(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "loadtest", `loadtest --issuer URL --client-id ID --client-secret SECRET --password PASSWORD [flags]
       gatehouse loadtest --setup-db sqlite:PATH|postgres://… [flags]

Drives an OpenID provider through the authorization code flow as concurrent
browsers would, or through the client_credentials grant and the management
API as a back end would, and reports flows/s, latencies per step, errors and,
with --server-pid, the server's CPU time per flow. Every token and answer is
validated. --setup-db prepares a test database first: it creates (or resets)
the client (an m2m application with a client grant for the machine scenarios)
and the users --user names, with a generated secret and password unless given.`)
	var cfg loadtest.Config
	fs.StringVar(&cfg.Issuer, "issuer", "http://localhost:8080", "issuer `URL` of the provider; endpoints come from its discovery document")
	fs.StringVar(&cfg.ClientID, "client-id", "loadtest", "client `id`")
	fs.StringVar(&cfg.ClientSecret, "client-secret", "", "client `secret` (generated with --setup-db when omitted)")
	fs.StringVar(&cfg.RedirectURI, "redirect-uri", "http://127.0.0.1:9/loadtest/callback", "registered redirect `URI` of the client; nothing needs to listen there")
	fs.StringVar(&cfg.User, "user", "loadtest{n}@example.com", "account `name`; {n} is the worker number, 1 to --concurrency")
	fs.StringVar(&cfg.Password, "password", "", "the users' `password` (generated with --setup-db when omitted)")
	scenario := fs.String("scenario", "login", "`scenario`: login, sso, exchange, refresh, userinfo, client_credentials, mgmt or mgmt-search")
	fs.IntVar(&cfg.Concurrency, "concurrency", 4, "simulated browsers at once")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the measured phase (no limit when only --count is given)")
	fs.IntVar(&cfg.Count, "count", 0, "flows to run over all workers (0: no limit)")
	fs.BoolVar(&cfg.PKCE, "pkce", true, "send an S256 code challenge")
	scope := fs.String("scope", "openid profile email", "scopes to request, space-separated (refresh adds offline_access; the machine scenarios ask for read:users, or for none with client_credentials, unless given)")
	fs.StringVar(&cfg.Audience, "audience", "", "`API` the machine scenarios get tokens for (default: the issuer's management API, ISSUER/api/v2/)")
	fs.IntVar(&cfg.Users, "users", 0, "the management scenarios search users 1 to `N` of --user (default: --setup-users, else --concurrency)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "`pid` of the provider on this machine: report its CPU time per flow and its memory")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	setupDB := fs.String("setup-db", "", "`database` of a test server (sqlite:PATH or postgres://…): create or reset the client and users there first")
	setupUsers := fs.Int("setup-users", 0, "users to create with --setup-db, numbered from 1, in batches of 1,000 (default: --concurrency)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	sc, err := loadtest.ParseScenario(*scenario)
	if err != nil {
		return fmt.Errorf("%w: loadtest: %v", errUsage, err)
	}
	cfg.Scenario = sc
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !sc.Machine() || set["scope"] {
		cfg.Scopes = strings.Fields(*scope)
	}
	if set["count"] && !set["duration"] {
		cfg.Duration = 0
	}
	if *setupDB != "" {
		n := *setupUsers
		if n == 0 {
			n = cfg.Concurrency
		}
		if err := setupLoadtestDB(ctx, e, *setupDB, &cfg, n); err != nil {
			return fmt.Errorf("loadtest: set up %s: %w", *setupDB, err)
		}
		if cfg.Users == 0 {
			cfg.Users = n
		}
	} else if cfg.ClientSecret == "" || cfg.Password == "" && !sc.Machine() {
		return fmt.Errorf("%w: loadtest: --client-secret and --password are required without --setup-db", errUsage)
	}

	rep, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(e.stdout)
	}
	if err != nil {
		return err
	}
	switch {
	case rep.Errors > 0 || rep.SetupErrors > 0:
		return fmt.Errorf("loadtest: %d of %d flows failed, %d setup errors; first error: %s", rep.Errors, rep.Flows, rep.SetupErrors, rep.FirstError)
	case rep.OK == 0:
		return errors.New("loadtest: no flow completed")
	}
	return nil
}

// setupLoadtestDB registers the load-test client and users numbered 1 to
// users in a test database, replacing a load-test client of the same id and
// resetting the password of users that exist. For the machine scenarios the
// client is an m2m application with a client grant for cfg.Audience. Secret
// and password are generated when cfg has none. All users share one password
// hash, so that thousands of them take seconds rather than an argon2id hash
// each, and they are written through the import job's bulk path, a
// transaction per thousand, so that a million take minutes.
func setupLoadtestDB(ctx context.Context, e env, db string, cfg *loadtest.Config, users int) error {
	start := time.Now()
	c := config.Default()
	if err := c.ApplyEnv(e.lookupEnv); err != nil {
		return err
	}
	c.DB = db
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = token.NewOpaque()
	}
	if cfg.Password == "" {
		cfg.Password = token.NewOpaque()
	}
	return withStore(ctx, c, func(st store.Store) error {
		svc, err := mgmt.New(mgmt.Config{Store: st, Issuer: cfg.Issuer})
		if err != nil {
			return err
		}
		name, offline := loadtestAppName, true // the refresh scenario needs refresh tokens
		old, err := st.GetClient(ctx, cfg.ClientID)
		switch {
		case err == nil && old.Name != loadtestAppName:
			return fmt.Errorf("client %q exists and is not a load-test client; choose another --client-id", cfg.ClientID)
		case err == nil:
			if err := svc.DeleteClient(ctx, cfg.ClientID); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		settings := mgmt.ClientSettings{Name: &name, Callbacks: &[]string{cfg.RedirectURI}, AllowOfflineAccess: &offline}
		if cfg.Scenario.Machine() {
			m2m := store.ClientM2M
			settings = mgmt.ClientSettings{Name: &name, Type: &m2m}
		}
		client, _, err := svc.CreateClient(ctx, mgmt.NewClient{ID: cfg.ClientID, Secret: cfg.ClientSecret, ClientSettings: settings})
		if err != nil {
			return err
		}
		if cfg.Scenario.Machine() {
			audience := cfg.Audience
			if audience == "" {
				audience = store.ManagementAudience(cfg.Issuer)
			}
			scopes := cfg.Scopes
			if svc.IsManagementAPI(audience) && !slices.Contains(scopes, "read:users") {
				scopes = append(slices.Clone(scopes), "read:users")
			}
			if _, err := svc.CreateClientGrant(ctx, mgmt.NewClientGrant{ClientID: client.ID, Audience: audience, Scopes: scopes}); err != nil {
				return fmt.Errorf("client grant for %s: %w", audience, err)
			}
		}
		// A running server may answer from its settings cache with the
		// old secret, callback or type for that long.
		if old.ID != "" && (old.SecretHash != client.SecretHash || !slices.Equal(old.Callbacks, client.Callbacks) || old.Type != client.Type) {
			defer time.Sleep(c.SettingsCacheTTL.D())
		}

		dbConfig := server.DatabaseConfig(c, st)
		conn, err := database.Open(dbConfig)
		if err != nil {
			return err
		}
		if err := conn.CheckPassword(cfg.Password, ""); err != nil {
			return err
		}
		hash, err := database.HashPassword(cfg.Password, dbConfig.Params)
		if err != nil {
			return err
		}
		created, reset, err := setupLoadtestUsers(ctx, st, cfg.User, users, c.UserIDProvider, hash)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "loadtest: client %s registered; %d users created, %d reset in %s\n",
			client.ID, created, reset, time.Since(start).Round(time.Millisecond))
		return nil
	})
}

// loadtestUserBatch is how many users one transaction of the set-up
// writes: the import job's batch.
const loadtestUserBatch = 1000

// setupLoadtestUsers creates the users 1 to n that the pattern names, or
// resets the password and the block of those that exist, with the import
// job's bulk write (store.JobStore.ImportUsers). A batch is inserted first,
// which PostgreSQL does in a round trip per row; only the rows refused
// because the user exists are written again as upserts, which read the
// user first. It returns how many users it created and how many it reset.
func setupLoadtestUsers(ctx context.Context, st store.Store, pattern string, n int, provider, hash string) (created, reset int, err error) {
	reset1 := func(u *store.User) { u.PasswordHash, u.Blocked = hash, false }
	seen := map[string]bool{}
	batch := make([]store.ImportUser, 0, loadtestUserBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		results, err := st.ImportUsers(ctx, batch)
		if err != nil {
			return err
		}
		var again []store.ImportUser
		for i, r := range results {
			switch {
			case errors.Is(r.Err, store.ErrConflict):
				again = append(again, store.ImportUser{User: batch[i].User, Update: reset1})
			case r.Err != nil:
				return fmt.Errorf("user %s: %w", batch[i].User.Email, r.Err)
			default:
				created++
			}
		}
		batch = batch[:0]
		if len(again) == 0 {
			return nil
		}
		if results, err = st.ImportUsers(ctx, again); err != nil {
			return err
		}
		for i, r := range results {
			if r.Err != nil {
				return fmt.Errorf("user %s: %w", again[i].User.Email, r.Err)
			}
			reset++
		}
		return nil
	}
	for i := 1; i <= n; i++ {
		email, err := database.NormalizeEmail(strings.ReplaceAll(pattern, loadtest.UserPlaceholder, strconv.Itoa(i)))
		if err != nil {
			return created, reset, err
		}
		if seen[email] {
			continue
		}
		// Only a pattern without {n} repeats; a set of a million
		// distinct names need not be kept.
		if !strings.Contains(pattern, loadtest.UserPlaceholder) {
			seen[email] = true
		}
		batch = append(batch, store.ImportUser{User: loadtestUser(provider, email, hash)})
		if len(batch) == loadtestUserBatch {
			if err := flush(); err != nil {
				return created, reset, err
			}
		}
	}
	return created, reset, flush()
}

// loadtestUser is a database user as the database connection's sign-up
// makes one, with a given password hash.
func loadtestUser(provider, email, hash string) store.User {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	now := time.Now().UTC()
	return store.User{
		ID:           provider + "|" + id,
		Connection:   store.DefaultDatabaseConnection,
		Email:        email,
		PasswordHash: hash,
		Name:         email,
		Nickname:     strings.SplitN(email, "@", 2)[0],
		Identities:   []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: provider, UserID: id}},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
}
