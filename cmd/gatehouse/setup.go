package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// commonFlags are the settings every command that touches the database takes.
type commonFlags struct {
	configFile    string
	db            string
	secretKeyFile string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "YAML config `file` (optional)")
	fs.StringVar(&c.db, "db", "", "database: sqlite:PATH (default: a SQLite file under ./gatehouse-data/; env GATEHOUSE_DB)")
	fs.StringVar(&c.secretKeyFile, "secret-key-file", "", "`file` with the base64 master key that encrypts signing keys (env GATEHOUSE_SECRET_KEY_FILE, or GATEHOUSE_SECRET_KEY with the key itself)")
}

// load builds the configuration: defaults, then the file, then the
// environment, then the flags that were set.
func (c *commonFlags) load(e env, fs *flag.FlagSet, extra func(*config.Config)) (config.Config, error) {
	cfg := config.Default()
	file := c.configFile
	if file == "" {
		if v, ok := e.lookupEnv("GATEHOUSE_CONFIG"); ok {
			file = v
		}
	}
	if file != "" {
		if err := cfg.LoadFile(file); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(e.lookupEnv); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["db"] {
		cfg.DB = c.db
	}
	if set["secret-key-file"] {
		cfg.SecretKeyFile = c.secretKeyFile
	}
	if extra != nil {
		extra(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// storeCmd is the skeleton of a command that works on the database: its
// flag set, which holds the common flags, is parsed, then the configuration
// is loaded and the store opened. Usage errors come before either, so a
// mistyped command line never creates a database.
type storeCmd struct {
	e      env
	fs     *flag.FlagSet
	common commonFlags
	// serviceNeeds, when set, adds to the management service's
	// configuration what the command needs besides the store (a sealer,
	// the key rings), which are opened only then.
	serviceNeeds func(ctx context.Context, cfg config.Config, st store.Store, mc *mgmt.Config) error
	// pos are the positional arguments parse found, for the audit log.
	pos []string
}

func newStoreCmd(e env, name, synopsis string) *storeCmd {
	cmd := &storeCmd{e: e, fs: newFlagSet(e, name, synopsis)}
	cmd.common.register(cmd.fs)
	return cmd
}

// parse parses args, which must hold exactly one positional argument, named
// arg in the error, or none when arg is "".
func (cmd *storeCmd) parse(args []string, arg string) ([]string, error) {
	if arg == "" {
		return nil, noArgs(cmd.fs, args)
	}
	pos, err := parseFlags(cmd.fs, args)
	if err == nil && len(pos) != 1 {
		err = fmt.Errorf("%w: %s takes exactly one %s", errUsage, cmd.fs.Name(), arg)
	}
	cmd.pos = pos
	return pos, err
}

// open loads the configuration and runs f with the store open.
func (cmd *storeCmd) open(ctx context.Context, f func(cfg config.Config, st store.Store) error) error {
	cfg, err := cmd.common.load(cmd.e, cmd.fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, cmd.audited(ctx, func(st store.Store) error { return f(cfg, st) }))
}

// run is parse then open, for a command with nothing to check in between.
func (cmd *storeCmd) run(ctx context.Context, args []string, arg string, f func(cfg config.Config, st store.Store, pos []string) error) error {
	pos, err := cmd.parse(args, arg)
	if err != nil {
		return err
	}
	return cmd.open(ctx, func(cfg config.Config, st store.Store) error { return f(cfg, st, pos) })
}

// withService is open with the management service over the store.
func (cmd *storeCmd) withService(ctx context.Context, f func(cfg config.Config, svc *mgmt.Service) error) error {
	return cmd.open(ctx, func(cfg config.Config, st store.Store) error {
		db, err := database.Open(server.DatabaseConfig(cfg, st))
		if err != nil {
			return err
		}
		mc := mgmt.Config{Store: st, Issuer: cfg.Issuer, Passwords: db}
		if cmd.serviceNeeds != nil {
			if err := cmd.serviceNeeds(ctx, cfg, st, &mc); err != nil {
				return err
			}
		}
		svc, err := mgmt.New(mc)
		if err != nil {
			return err
		}
		return f(cfg, svc)
	})
}

// runService is parse then withService.
func (cmd *storeCmd) runService(ctx context.Context, args []string, arg string, f func(cfg config.Config, svc *mgmt.Service, pos []string) error) error {
	pos, err := cmd.parse(args, arg)
	if err != nil {
		return err
	}
	return cmd.withService(ctx, func(cfg config.Config, svc *mgmt.Service) error { return f(cfg, svc, pos) })
}

// withKeys gives the management service the signing key rings, so that an
// API's algorithm gets its keys when the API is saved.
func withKeys(e env) func(ctx context.Context, cfg config.Config, st store.Store, mc *mgmt.Config) error {
	return func(ctx context.Context, cfg config.Config, st store.Store, mc *mgmt.Config) error {
		keys, err := openKeys(ctx, cfg, st, cliLogger(e))
		if err != nil {
			return err
		}
		mc.Keys = keys
		return nil
	}
}

// flagError names the flag in a management error about an input whose
// name is the flag's with "-" for "_": "issuer is required …" becomes
// "--issuer is required …".
func flagError(err error) error {
	var me *mgmt.Error
	if errors.As(err, &me) && me.Field != "" {
		if rest, ok := strings.CutPrefix(me.Message, me.Field); ok {
			return fmt.Errorf("--%s%s", strings.ReplaceAll(me.Field, "_", "-"), rest)
		}
	}
	return err
}

// showOne implements "<things> show ID" as indented JSON.
func showOne(ctx context.Context, e env, args []string, name, what string, get func(*mgmt.Service, string) (any, error)) error {
	cmd := newStoreCmd(e, name, name+" "+what+" [--db DB]")
	return cmd.runService(ctx, args, what, func(_ config.Config, svc *mgmt.Service, pos []string) error {
		v, err := get(svc, pos[0])
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// deleteOne implements "<things> delete ID".
func deleteOne(ctx context.Context, e env, args []string, name, what string, del func(*mgmt.Service, string) error) error {
	cmd := newStoreCmd(e, name, name+" "+what+" [--db DB]")
	return cmd.runService(ctx, args, what, func(_ config.Config, svc *mgmt.Service, pos []string) error {
		if err := del(svc, pos[0]); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s: %q not found", name, pos[0])
			}
			return err
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", pos[0])
		return nil
	})
}

// printTable writes the rows under the header in aligned columns.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// openStore opens (and migrates) the configured database.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	driver, dsn, err := cfg.DBPath()
	if err != nil {
		return nil, err
	}
	switch driver {
	case "postgres":
		pg := cfg.Postgres
		db, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: pg.MaxConns, MinConns: pg.MinConns,
			StatementTimeout: pg.StatementTimeout.D(), ConnectTimeout: pg.ConnectTimeout.D()})
		if err != nil {
			return nil, err
		}
		return db, nil
	case "sqlite":
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		db, err := sqlite.Open(octx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		return db, nil
	}
	return nil, fmt.Errorf("unsupported database driver %q", driver)
}

// masterKey finds the key that encrypts private signing keys: the
// GATEHOUSE_SECRET_KEY value, the configured file, or a file generated
// beside the database.
func masterKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if key, ok, err := configuredMasterKey(cfg); ok || err != nil {
		return key, err
	}
	path, err := generatedKeyPath(cfg)
	if err != nil {
		return nil, err
	}
	key, created, err := token.LoadOrCreateMasterKey(path)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("generated a new master key; back it up, or set GATEHOUSE_SECRET_KEY / --secret-key-file in production", "path", path)
	}
	return key, nil
}

// configuredMasterKey reads the key given by GATEHOUSE_SECRET_KEY or the
// key file; ok is false when neither is set.
func configuredMasterKey(cfg config.Config) (key []byte, ok bool, err error) {
	if cfg.SecretKey != "" {
		key, err = token.ParseMasterKey(cfg.SecretKey)
		return key, true, err
	}
	if cfg.SecretKeyFile != "" {
		b, err := os.ReadFile(cfg.SecretKeyFile)
		if err != nil {
			return nil, true, fmt.Errorf("read secret key file: %w", err)
		}
		key, err = token.ParseMasterKey(strings.TrimSpace(string(b)))
		return key, true, err
	}
	return nil, false, nil
}

// generatedKeyPath is where the master key is kept when none is configured:
// beside the SQLite database.
func generatedKeyPath(cfg config.Config) (string, error) {
	driver, dsn, err := cfg.DBPath()
	if err != nil {
		return "", err
	}
	if driver != "sqlite" {
		// Replicas on a shared database must share the key: generating one
		// per machine would make the others unable to read signing keys.
		return "", errors.New("with PostgreSQL, set the master key explicitly: GATEHOUSE_SECRET_KEY or --secret-key-file (base64 of 32 bytes, the same on every replica)")
	}
	return filepath.Join(filepath.Dir(dsn), "secret.key"), nil
}

// checkMasterKey checks the configured master key, or that one can be
// generated, without creating anything.
func checkMasterKey(cfg config.Config) error {
	if _, ok, err := configuredMasterKey(cfg); ok || err != nil {
		return err
	}
	_, err := generatedKeyPath(cfg)
	return err
}

// openSealer returns the master-key sealer that encrypts secrets at rest.
func openSealer(cfg config.Config, log *slog.Logger) (*token.Sealer, error) {
	mk, err := masterKey(cfg, log)
	if err != nil {
		return nil, err
	}
	return token.NewSealer(mk)
}

// openKeys returns the signing keys, creating the first ones on first start.
func openKeys(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) (*token.Keys, error) {
	sealer, err := openSealer(cfg, log)
	if err != nil {
		return nil, err
	}
	keys, err := token.NewKeys(st, sealer, token.KeyOptions{Algorithm: cfg.SigningAlgorithm, CacheTTL: cfg.Tokens.KeysCacheTTL.D()})
	if err != nil {
		return nil, err
	}
	if err := keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

// newLogger builds the structured logger.
func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// withStore runs f with the configured store open.
func withStore(ctx context.Context, cfg config.Config, f func(store.Store) error) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

// notFound turns store.ErrNotFound into a message naming the thing.
func notFound(kind, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s %q not found", kind, id)
	}
	return err
}

// conflict turns store.ErrConflict, a unique-key clash, into a message
// naming the thing: the format followed by "already exists".
func conflict(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf(format+" already exists", args...)
	}
	return err
}

// cliLogger is the logger of administration commands: warnings to stderr.
func cliLogger(e env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
