package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/connector"
	"gatehouse/internal/connector/github"
	oauth2conn "gatehouse/internal/connector/oauth2"
	"gatehouse/internal/connector/oidc"
	"gatehouse/internal/mgmt"
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
	fs.Var(&f.claims, "claim", "oidc/oauth2 claim mapping `FIELD=CLAIM` (repeatable; fields: "+strings.Join(mgmt.MappableFields, " ")+")")
	fs.Var(&f.enableFor, "enable-for", "enable for the application `CLIENT_ID` (repeatable)")
}

// settings returns the settings whose flags were set.
func (f *connFlags) settings(fs *flag.FlagSet) (mgmt.ConnectionSettings, error) {
	var s mgmt.ConnectionSettings
	var err error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "strategy":
			s.Strategy = &f.strategy
		case "client-id":
			s.ClientID = &f.clientID
		case "client-secret":
			s.ClientSecret = &f.clientSecret
		case "issuer":
			s.Issuer = &f.issuer
		case "authorize-url":
			s.AuthorizeURL = &f.authorizeURL
		case "token-url":
			s.TokenURL = &f.tokenURL
		case "userinfo-url":
			s.UserinfoURL = &f.userinfoURL
		case "base-url":
			s.BaseURL = &f.baseURL
		case "api-url":
			s.APIURL = &f.apiURL
		case "scopes":
			scopes := strings.Fields(f.scopes)
			s.Scopes = &scopes
		case "claim":
			m := map[string]string{}
			for _, kv := range f.claims {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || v == "" || !slices.Contains(mgmt.MappableFields, k) {
					if err == nil {
						err = fmt.Errorf("--claim %q: want FIELD=CLAIM with FIELD one of %s", kv, strings.Join(mgmt.MappableFields, " "))
					}
					return
				}
				m[k] = v
			}
			s.ClaimMapping = &m
		}
	})
	s.EnableFor = f.enableFor
	return s, err
}

// withSealer gives the management service the master-key sealer when the
// command sets a client secret, and only then: other changes need no key.
func withSealer(e env, in *mgmt.ConnectionSettings) func(ctx context.Context, cfg config.Config, st store.Store, mc *mgmt.Config) error {
	return func(_ context.Context, cfg config.Config, _ store.Store, mc *mgmt.Config) error {
		if in.ClientSecret == nil {
			return nil
		}
		sealer, err := openSealer(cfg, cliLogger(e))
		if err != nil {
			return err
		}
		mc.Sealer = sealer
		return nil
	}
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
	in, err := f.settings(cmd.fs)
	if err != nil {
		return err
	}
	cmd.serviceNeeds = withSealer(e, &in)
	return cmd.withService(ctx, func(cfg config.Config, svc *mgmt.Service) error {
		conn, err := svc.CreateConnection(ctx, *name, in)
		if err != nil {
			return flagError(err)
		}
		iss := strings.TrimSuffix(cfg.Issuer, "/")
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
	pos, err := cmd.parse(args, "NAME")
	if err != nil {
		return err
	}
	in, err := f.settings(cmd.fs)
	if err != nil {
		return err
	}
	cmd.serviceNeeds = withSealer(e, &in)
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		conn, err := svc.UpdateConnection(ctx, pos[0], in)
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(e.stdout, "updated connection %s\n", conn.Name)
		return nil
	})
}

func cmdConnectionsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "connections list", "connections list [--db DB]")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		conns, err := svc.ListConnections(ctx)
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
	return showOne(ctx, e, args, "connections show", "NAME", func(svc *mgmt.Service, name string) (any, error) {
		c, err := svc.GetConnection(ctx, name)
		if err != nil {
			return nil, err
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
	return deleteOne(ctx, e, args, "connections delete", "NAME", func(svc *mgmt.Service, name string) error {
		return svc.DeleteConnection(ctx, name)
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
	cmd.pos = pos
	if err != nil {
		return err
	}
	if len(pos) != 1 || *app == "" {
		return fmt.Errorf("%w: connections %s needs --app CLIENT_ID and one connection NAME", errUsage, verb)
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		if err := svc.SetConnectionEnabled(ctx, pos[0], *app, enabled); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd connection %s for %s\n", verb, pos[0], *app)
		return nil
	})
}

// configConnection is a connection of the config file, checked, with its
// client secret read from the environment.
type configConnection struct {
	name     string
	settings mgmt.ConnectionSettings
}

// configConnections reads and checks the connections declared in the
// config file without the database: everything but the presence of a
// client secret stored earlier.
func configConnections(cfg config.Config, lookupEnv func(string) (string, bool)) ([]configConnection, error) {
	var out []configConnection
	for _, cc := range cfg.Connections {
		in := mgmt.ConnectionSettings{Strategy: &cc.Strategy, ClientID: &cc.ClientID, Issuer: &cc.Issuer,
			AuthorizeURL: &cc.AuthorizeURL, TokenURL: &cc.TokenURL, UserinfoURL: &cc.UserinfoURL, BaseURL: &cc.BaseURL,
			APIURL: &cc.APIURL, Scopes: &cc.Scopes, ClaimMapping: &cc.ClaimMapping, EnableFor: cc.EnableFor}
		// No secret in the config keeps the one stored.
		if cc.ClientSecret != "" {
			in.ClientSecret = &cc.ClientSecret
		}
		if cc.ClientSecretEnv != "" {
			v, ok := lookupEnv(cc.ClientSecretEnv)
			if !ok || v == "" {
				return nil, fmt.Errorf("connection %s: environment variable %s is not set", cc.Name, cc.ClientSecretEnv)
			}
			in.ClientSecret = &v
		}
		if err := mgmt.CheckConnection(cc.Name, in); err != nil {
			return nil, fmt.Errorf("connection %s: %w", cc.Name, err)
		}
		out = append(out, configConnection{name: cc.Name, settings: in})
	}
	return out, nil
}

// applyConfigConnections creates or updates the connections declared in
// the config file. Applications listed in enable_for are enabled; others
// enabled through the CLI stay enabled.
func applyConfigConnections(ctx context.Context, st store.Store, sealer *token.Sealer, conns []configConnection) error {
	svc, err := mgmt.New(mgmt.Config{Store: st, Sealer: sealer})
	if err != nil {
		return err
	}
	for _, cc := range conns {
		if _, err := svc.PutConnection(ctx, cc.name, cc.settings); err != nil {
			return fmt.Errorf("connection %s: %w", cc.name, err)
		}
	}
	return nil
}
