package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/connector"
	"gatehouse/internal/connector/github"
	oauth2conn "gatehouse/internal/connector/oauth2"
	"gatehouse/internal/connector/oidc"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// upstreamTimeout bounds every call to an upstream provider.
const upstreamTimeout = 10 * time.Second

// connectorOpener builds a connector from a stored connection, decrypting
// its client secret with the master key.
func connectorOpener(sealer *token.Sealer) func(ctx context.Context, c store.Connection) (connector.CallbackConnector, error) {
	client := &http.Client{Timeout: upstreamTimeout}
	return func(ctx context.Context, c store.Connection) (connector.CallbackConnector, error) {
		secret, err := openSecret(sealer, c)
		if err != nil {
			return nil, err
		}
		switch c.Strategy {
		case store.StrategyGitHub:
			return github.Open(github.Config{ClientID: c.ClientID, ClientSecret: secret, BaseURL: c.BaseURL,
				APIURL: c.APIURL, Scopes: c.Scopes, HTTPClient: client})
		case store.StrategyOIDC:
			return oidc.Open(ctx, oidc.Config{Name: c.Name, Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret,
				Scopes: c.Scopes, ClaimMapping: c.ClaimMapping, HTTPClient: client})
		case store.StrategyOAuth2:
			return oauth2conn.Open(oauth2conn.Config{Name: c.Name, AuthorizeURL: c.AuthorizeURL, TokenURL: c.TokenURL,
				UserinfoURL: c.UserinfoURL, ClientID: c.ClientID, ClientSecret: secret, Scopes: c.Scopes,
				ClaimMapping: c.ClaimMapping, HTTPClient: client})
		}
		return nil, fmt.Errorf("connection %s: strategy %q has no upstream", c.Name, c.Strategy)
	}
}

func openSecret(sealer *token.Sealer, c store.Connection) (string, error) {
	if len(c.ClientSecretSealed) == 0 {
		return "", nil
	}
	b, err := sealer.Open(c.ClientSecretSealed, []byte("connection:"+c.Name))
	if err != nil {
		return "", fmt.Errorf("connection %s: decrypt client secret (wrong master key?): %w", c.Name, err)
	}
	return string(b), nil
}

var connectionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// connFlags are a connection's settings, shared by create and update.
type connFlags struct {
	strategy, clientID, clientSecret, issuer             string
	authorizeURL, tokenURL, userinfoURL, baseURL, apiURL string
	scopes                                               string
	claims, enableFor                                    multiFlag
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.strategy, "strategy", "", "github, oidc or oauth2")
	fs.StringVar(&f.clientID, "client-id", "", "the client id registered at the upstream provider")
	fs.StringVar(&f.clientSecret, "client-secret", "", "the upstream client secret (stored encrypted)")
	fs.StringVar(&f.issuer, "issuer", "", "oidc: the provider's issuer URL (discovery)")
	fs.StringVar(&f.authorizeURL, "authorize-url", "", "oauth2: authorization endpoint")
	fs.StringVar(&f.tokenURL, "token-url", "", "oauth2: token endpoint")
	fs.StringVar(&f.userinfoURL, "userinfo-url", "", "oauth2: userinfo endpoint")
	fs.StringVar(&f.baseURL, "base-url", "", "github: web base URL of GitHub Enterprise Server (default https://github.com)")
	fs.StringVar(&f.apiURL, "api-url", "", "github: API base URL (default https://api.github.com; Enterprise: BASE/api/v3)")
	fs.StringVar(&f.scopes, "scopes", "", "space-separated scopes to request upstream")
	fs.Var(&f.claims, "claim", "oidc/oauth2 claim mapping `FIELD=CLAIM` (repeatable; fields: sub email email_verified name nickname picture given_name family_name)")
	fs.Var(&f.enableFor, "enable-for", "enable for the application `CLIENT_ID` (repeatable)")
}

var mappableFields = []string{"sub", "email", "email_verified", "name", "nickname", "picture", "given_name", "family_name"}

// apply copies the flags that were set onto c.
func (f *connFlags) apply(fs *flag.FlagSet, c *store.Connection, sealer func() (*token.Sealer, error)) error {
	var err error
	set := func(e error) {
		if err == nil {
			err = e
		}
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "client-id":
			c.ClientID = f.clientID
		case "client-secret":
			s, e := sealer()
			if e != nil {
				set(e)
				return
			}
			c.ClientSecretSealed = s.Seal([]byte(f.clientSecret), []byte("connection:"+c.Name))
		case "issuer":
			c.Issuer = f.issuer
		case "authorize-url":
			c.AuthorizeURL = f.authorizeURL
		case "token-url":
			c.TokenURL = f.tokenURL
		case "userinfo-url":
			c.UserinfoURL = f.userinfoURL
		case "base-url":
			c.BaseURL = f.baseURL
		case "api-url":
			c.APIURL = f.apiURL
		case "scopes":
			c.Scopes = strings.Fields(f.scopes)
		case "claim":
			c.ClaimMapping = map[string]string{}
			for _, kv := range f.claims {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || v == "" || !slices.Contains(mappableFields, k) {
					set(fmt.Errorf("--claim %q: want FIELD=CLAIM with FIELD one of %s", kv, strings.Join(mappableFields, " ")))
					return
				}
				c.ClaimMapping[k] = v
			}
		}
	})
	return err
}

// validateConnection checks a connection's settings without contacting the
// upstream.
func validateConnection(c store.Connection) error {
	if !connectionName.MatchString(c.Name) {
		return fmt.Errorf("connection name %q must be 1 to 64 characters of a-z 0-9 _ - (starting with a letter or digit)", c.Name)
	}
	checkURL := func(name, v string, required bool) error {
		if v == "" {
			if required {
				return fmt.Errorf("--%s is required for the %s strategy", name, c.Strategy)
			}
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && config.IsLoopback(u.Hostname()))) {
			return fmt.Errorf("--%s %q must be an https URL (http only on localhost)", name, v)
		}
		return nil
	}
	var errs []error
	switch c.Strategy {
	case store.StrategyGitHub:
		errs = append(errs, checkURL("base-url", c.BaseURL, false), checkURL("api-url", c.APIURL, false))
	case store.StrategyOIDC:
		errs = append(errs, checkURL("issuer", c.Issuer, true))
	case store.StrategyOAuth2:
		errs = append(errs, checkURL("authorize-url", c.AuthorizeURL, true), checkURL("token-url", c.TokenURL, true),
			checkURL("userinfo-url", c.UserinfoURL, true))
	case store.StrategyDatabase:
		return errors.New("database connections other than the built-in one are not supported yet")
	default:
		return fmt.Errorf("strategy %q is not github, oidc or oauth2", c.Strategy)
	}
	if c.ClientID == "" {
		errs = append(errs, fmt.Errorf("--client-id is required for the %s strategy", c.Strategy))
	}
	if len(c.ClientSecretSealed) == 0 {
		errs = append(errs, fmt.Errorf("--client-secret is required for the %s strategy", c.Strategy))
	}
	return errors.Join(errs...)
}

func cmdConnectionsCreate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "connections create", "connections create --name NAME --strategy github|oidc|oauth2 [flags]")
	name := cmd.fs.String("name", "", "connection name, unique (e.g. github)")
	issuer := cmd.fs.String("issuer-url", "", "the server's public URL, to print the callback to register (default: the configured issuer)")
	var f connFlags
	f.register(cmd.fs)
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if *name == "" || f.strategy == "" {
		return fmt.Errorf("%w: connections create: --name and --strategy are required", errUsage)
	}
	return cmd.open(ctx, func(cfg config.Config, st store.Store) error {
		now := time.Now().UTC()
		conn := store.Connection{Name: *name, Strategy: f.strategy, CreatedAt: now, UpdatedAt: now}
		if err := f.apply(cmd.fs, &conn, func() (*token.Sealer, error) { return openSealer(cfg, cliLogger(e)) }); err != nil {
			return err
		}
		if err := validateConnection(conn); err != nil {
			return err
		}
		for _, id := range f.enableFor {
			if _, err := st.GetClient(ctx, id); err != nil {
				return notFound("application", id, err)
			}
		}
		if err := st.CreateConnection(ctx, conn); err != nil {
			return conflict(err, "a connection named %q", conn.Name)
		}
		for _, id := range f.enableFor {
			if err := st.SetConnectionEnabled(ctx, conn.Name, id, true); err != nil {
				return err
			}
		}
		iss := cfg.Issuer
		if *issuer != "" {
			iss = strings.TrimSuffix(*issuer, "/")
		}
		fmt.Fprintf(e.stdout, "created connection %s\nregister this callback URL at the provider: %s/login/callback\n", conn.Name, iss)
		return nil
	})
}

func cmdConnectionsUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "connections update", "connections update NAME [flags]")
	var f connFlags
	f.register(cmd.fs)
	return cmd.run(ctx, args, "NAME", func(cfg config.Config, st store.Store, pos []string) error {
		conn, err := st.GetConnection(ctx, pos[0])
		if err != nil {
			return notFound("connection", pos[0], err)
		}
		if cmd.fs.Lookup("strategy").Value.String() != "" && f.strategy != conn.Strategy {
			return errors.New("the strategy of a connection cannot change; create another connection")
		}
		if err := f.apply(cmd.fs, &conn, func() (*token.Sealer, error) { return openSealer(cfg, cliLogger(e)) }); err != nil {
			return err
		}
		if conn.Strategy != store.StrategyDatabase {
			if err := validateConnection(conn); err != nil {
				return err
			}
		}
		conn.UpdatedAt = time.Now().UTC()
		if err := st.UpdateConnection(ctx, conn); err != nil {
			return err
		}
		for _, id := range f.enableFor {
			if err := st.SetConnectionEnabled(ctx, conn.Name, id, true); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "updated connection %s\n", conn.Name)
		return nil
	})
}

func cmdConnectionsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "connections list", "connections list [--db DB]")
	return cmd.run(ctx, args, "", func(_ config.Config, st store.Store, _ []string) error {
		conns, err := st.ListConnections(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, c := range conns {
			rows = append(rows, []string{c.Name, c.Strategy, strings.Join(c.EnabledClients, ",")})
		}
		return printTable(e.stdout, []string{"NAME", "STRATEGY", "ENABLED_FOR"}, rows)
	})
}

func cmdConnectionsShow(ctx context.Context, e env, args []string) error {
	return showOne(ctx, e, args, "connections show", "NAME", func(st store.Store, name string) (any, error) {
		c, err := st.GetConnection(ctx, name)
		if err != nil {
			return nil, notFound("connection", name, err)
		}
		return map[string]any{
			"name": c.Name, "strategy": c.Strategy, "client_id": c.ClientID, "client_secret_set": len(c.ClientSecretSealed) > 0,
			"issuer": c.Issuer, "authorize_url": c.AuthorizeURL, "token_url": c.TokenURL, "userinfo_url": c.UserinfoURL,
			"base_url": c.BaseURL, "api_url": c.APIURL, "scopes": c.Scopes, "claim_mapping": c.ClaimMapping,
			"enabled_for": c.EnabledClients, "created_at": c.CreatedAt, "updated_at": c.UpdatedAt,
		}, nil
	})
}

func cmdConnectionsDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "connections delete", "NAME", func(st store.Store, name string) error {
		if name == store.DefaultDatabaseConnection {
			return errors.New("the built-in database connection cannot be deleted; disable it for applications instead")
		}
		return st.DeleteConnection(ctx, name)
	})
}

func cmdConnectionsEnable(ctx context.Context, e env, args []string) error {
	return setConnectionEnabled(ctx, e, args, "enable", true)
}

func cmdConnectionsDisable(ctx context.Context, e env, args []string) error {
	return setConnectionEnabled(ctx, e, args, "disable", false)
}

func setConnectionEnabled(ctx context.Context, e env, args []string, verb string, enabled bool) error {
	cmd := newStoreCmd(e, "connections "+verb, "connections "+verb+" --app CLIENT_ID NAME")
	app := cmd.fs.String("app", "", "the application's client id (required)")
	pos, err := parseFlags(cmd.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *app == "" {
		return fmt.Errorf("%w: connections %s needs --app CLIENT_ID and one connection NAME", errUsage, verb)
	}
	return cmd.open(ctx, func(_ config.Config, st store.Store) error {
		if _, err := st.GetClient(ctx, *app); err != nil {
			return notFound("application", *app, err)
		}
		if err := st.SetConnectionEnabled(ctx, pos[0], *app, enabled); err != nil {
			return notFound("connection", pos[0], err)
		}
		fmt.Fprintf(e.stdout, "%sd connection %s for %s\n", verb, pos[0], *app)
		return nil
	})
}

// configConnection is a connection of the config file, checked, with its
// client secret read from the environment.
type configConnection struct {
	conn      store.Connection // without its secret
	secret    string           // "" keeps the stored secret
	enableFor []string
}

// configConnections reads and checks the connections declared in the
// config file without the database: everything but the presence of a
// client secret stored earlier.
func configConnections(cfg config.Config, lookupEnv func(string) (string, bool)) ([]configConnection, error) {
	var out []configConnection
	for _, cc := range cfg.Connections {
		secret := cc.ClientSecret
		if cc.ClientSecretEnv != "" {
			v, ok := lookupEnv(cc.ClientSecretEnv)
			if !ok || v == "" {
				return nil, fmt.Errorf("connection %s: environment variable %s is not set", cc.Name, cc.ClientSecretEnv)
			}
			secret = v
		}
		conn := store.Connection{Name: cc.Name, Strategy: cc.Strategy, ClientID: cc.ClientID, Issuer: cc.Issuer,
			AuthorizeURL: cc.AuthorizeURL, TokenURL: cc.TokenURL, UserinfoURL: cc.UserinfoURL, BaseURL: cc.BaseURL,
			APIURL: cc.APIURL, Scopes: cc.Scopes, ClaimMapping: cc.ClaimMapping}
		for k := range conn.ClaimMapping {
			if !slices.Contains(mappableFields, k) {
				return nil, fmt.Errorf("connection %s: claim_mapping field %q is not one of %s", cc.Name, k, strings.Join(mappableFields, " "))
			}
		}
		// A placeholder stands for a secret stored earlier, checked when
		// the connection is applied.
		check := conn
		check.ClientSecretSealed = []byte("unchecked")
		if err := validateConnection(check); err != nil {
			return nil, fmt.Errorf("connection %s: %w", cc.Name, err)
		}
		out = append(out, configConnection{conn: conn, secret: secret, enableFor: cc.EnableFor})
	}
	return out, nil
}

// applyConfigConnections creates or updates the connections declared in
// the config file. Applications listed in enable_for are enabled; others
// enabled through the CLI stay enabled.
func applyConfigConnections(ctx context.Context, st store.Store, sealer *token.Sealer, conns []configConnection) error {
	for _, cc := range conns {
		now := time.Now().UTC()
		conn, err := st.GetConnection(ctx, cc.conn.Name)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if !exists {
			conn = store.Connection{Name: cc.conn.Name, Strategy: cc.conn.Strategy, CreatedAt: now}
		} else if conn.Strategy != cc.conn.Strategy {
			return fmt.Errorf("connection %s: the config says strategy %s but the database has %s", conn.Name, cc.conn.Strategy, conn.Strategy)
		}
		c := cc.conn
		conn.ClientID, conn.Issuer, conn.AuthorizeURL, conn.TokenURL = c.ClientID, c.Issuer, c.AuthorizeURL, c.TokenURL
		conn.UserinfoURL, conn.BaseURL, conn.APIURL, conn.Scopes, conn.ClaimMapping = c.UserinfoURL, c.BaseURL, c.APIURL, c.Scopes, c.ClaimMapping
		if cc.secret != "" {
			conn.ClientSecretSealed = sealer.Seal([]byte(cc.secret), []byte("connection:"+conn.Name))
		}
		if err := validateConnection(conn); err != nil {
			return fmt.Errorf("connection %s: %w", conn.Name, err)
		}
		conn.UpdatedAt = now
		if exists {
			err = st.UpdateConnection(ctx, conn)
		} else {
			err = st.CreateConnection(ctx, conn)
		}
		if err != nil {
			return fmt.Errorf("connection %s: %w", conn.Name, err)
		}
		for _, id := range cc.enableFor {
			if err := st.SetConnectionEnabled(ctx, conn.Name, id, true); err != nil {
				return fmt.Errorf("connection %s: enable for %s: %w", conn.Name, id, err)
			}
		}
	}
	return nil
}
