package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

func cmdAppsCreate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "apps create", "apps create --name NAME --callback URL [--callback URL …] [flags]")
	var c commonFlags
	c.register(fs)
	var p oauth.NewClientParams
	var callbacks, logoutURLs multiFlag
	fs.StringVar(&p.Name, "name", "", "application name (required)")
	fs.Var(&callbacks, "callback", "allowed callback `URL` (repeatable; exact match)")
	fs.Var(&logoutURLs, "logout-url", "allowed logout `URL` (repeatable)")
	fs.StringVar(&p.ID, "client-id", "", "client id (generated when omitted)")
	fs.StringVar(&p.Secret, "client-secret", "", "client secret, at least 32 characters (generated when omitted)")
	fs.BoolVar(&p.FirstParty, "first-party", false, "first-party application: users are not asked for consent")
	fs.BoolVar(&p.AllowOfflineAccess, "allow-offline-access", false, "issue refresh tokens when offline_access is requested")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: apps create takes no arguments, got %q", errUsage, pos[0])
	}
	if p.Name == "" {
		return fmt.Errorf("%w: apps create: --name is required", errUsage)
	}
	if len(callbacks) == 0 {
		return fmt.Errorf("%w: apps create: at least one --callback is required", errUsage)
	}
	p.Callbacks, p.LogoutURLs = callbacks, logoutURLs
	client, secret, err := oauth.NewClient(p)
	if err != nil {
		return err
	}
	client.CreatedAt = time.Now().UTC()
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		if err := st.CreateClient(ctx, client); err != nil {
			if isConflict(err) {
				return fmt.Errorf("an application with client id %q already exists", client.ID)
			}
			return err
		}
		fmt.Fprintf(e.stdout, "client_id: %s\nclient_secret: %s\n", client.ID, secret)
		fmt.Fprintln(e.stderr, "The client secret is shown only this once; store it now.")
		return nil
	})
}

func cmdAppsList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "apps list", "apps list [--db DB]")
	var c commonFlags
	c.register(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		clients, err := st.ListClients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tFIRST_PARTY\tOFFLINE_ACCESS\tCALLBACKS")
		for _, cl := range clients {
			fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%s\n", cl.ID, cl.Name, cl.FirstParty, cl.AllowOfflineAccess, strings.Join(cl.Callbacks, ","))
		}
		return tw.Flush()
	})
}

func cmdAppsDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "apps delete", "CLIENT_ID", func(st store.Store, id string) error {
		return st.DeleteClient(ctx, id)
	})
}

func cmdUsersCreate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "users create", "users create --email EMAIL [--name NAME] --password-stdin")
	var c commonFlags
	c.register(fs)
	email := fs.String("email", "", "email address (required)")
	name := fs.String("name", "", "full name")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: users create takes no arguments, got %q", errUsage, pos[0])
	}
	if *email == "" {
		return fmt.Errorf("%w: users create: --email is required", errUsage)
	}
	if !*passwordStdin {
		return fmt.Errorf("%w: users create: --password-stdin is required (passwords are never taken as arguments)", errUsage)
	}
	password, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		db, err := database.Open(database.Config{
			Store:     st,
			Provider:  cfg.UserIDProvider,
			Params:    database.Params{MemoryKiB: cfg.Password.MemoryKiB, Iterations: cfg.Password.Iterations, Parallelism: cfg.Password.Parallelism},
			MinLength: cfg.Password.MinLength,
		})
		if err != nil {
			return err
		}
		u, err := db.SignUp(ctx, *email, password, *name)
		if isConflict(err) {
			return fmt.Errorf("a user with email %q already exists", strings.ToLower(*email))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "user_id: %s\n", u.ID)
		return nil
	})
}

// readPassword reads one line from r.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

func cmdUsersList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "users list", "users list [--db DB]")
	var c commonFlags
	c.register(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER_ID\tEMAIL\tNAME\tLOGINS\tCREATED")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", u.ID, u.Email, u.Name, u.LoginsCount, u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	})
}

func cmdUsersDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "users delete", "USER_ID", func(st store.Store, id string) error {
		return st.DeleteUser(ctx, id)
	})
}

func cmdKeysRotate(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys rotate", "keys rotate [--db DB]")
	var c commonFlags
	c.register(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	return withStore(ctx, cfg, func(st store.Store) error {
		keys, err := openKeys(ctx, cfg, st, log)
		if err != nil {
			return err
		}
		// The old key stays published until every token it signed has
		// expired; other processes may sign with it for one cache period more.
		retire := max(cfg.Tokens.IDToken.D(), cfg.Tokens.AccessToken.D()) + cfg.Tokens.KeysCacheTTL.D() + 5*time.Minute
		if err := keys.Rotate(ctx, retire); err != nil {
			return err
		}
		return printKeys(ctx, e, st)
	})
}

func cmdKeysList(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "keys list", "keys list [--db DB]")
	var c commonFlags
	c.register(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error { return printKeys(ctx, e, st) })
}

func printKeys(ctx context.Context, e env, st store.Store) error {
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tRETIRES")
	for _, k := range keys {
		retire := "-"
		if !k.RetireAt.IsZero() {
			retire = k.RetireAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339), retire)
	}
	return tw.Flush()
}

// noArgs parses flags and refuses positional arguments.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, fs.Name(), pos[0])
	}
	return nil
}

// deleteOne implements "<things> delete ID".
func deleteOne(ctx context.Context, e env, args []string, name, what string, del func(store.Store, string) error) error {
	fs := newFlagSet(e, name, name+" "+what+" [--db DB]")
	var c commonFlags
	c.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: %s takes exactly one %s", errUsage, name, what)
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		if err := del(st, pos[0]); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s: %q not found", name, pos[0])
			}
			return err
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", pos[0])
		return nil
	})
}
