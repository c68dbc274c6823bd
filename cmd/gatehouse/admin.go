package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/mfa"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// appFlags are the settings of an application shared by create and update.
type appFlags struct {
	name, appType, method   string
	callbacks, logoutURLs   multiFlag
	firstParty, offline     bool
	idTTL, accessTTL        durationFlag
	noRotation              bool
	overlap, idle, absolute durationFlag
	orgUsage, orgBehavior   string
	initiateLoginURI        string
	mfa                     string
	requireVerifiedEmail    bool
	backchannelLogoutURI    string
	implicit                bool
	clientTypeFlags
}

func (f *appFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "application name")
	fs.StringVar(&f.appType, "type", "", "application type: regular_web (default), spa, native (public: no secret, PKCE) or m2m (client credentials only)")
	fs.StringVar(&f.method, "token-endpoint-auth-method", "", "client_secret_basic (default), client_secret_post, private_key_jwt (with --jwks), or none (spa and native)")
	fs.Var(&f.callbacks, "callback", "allowed callback `URL` (repeatable; exact match; on update replaces the list)")
	fs.Var(&f.logoutURLs, "logout-url", "allowed logout `URL` (repeatable; on update replaces the list)")
	fs.BoolVar(&f.firstParty, "first-party", false, "first-party application: users are not asked for consent")
	fs.BoolVar(&f.offline, "allow-offline-access", false, "issue refresh tokens when offline_access is requested")
	fs.Var(&f.idTTL, "id-token-ttl", "ID token `lifetime` (default: the server's)")
	fs.Var(&f.accessTTL, "access-token-ttl", "access token `lifetime` (default: the server's)")
	fs.BoolVar(&f.noRotation, "no-refresh-rotation", false, "keep one refresh token instead of rotating it at each use")
	fs.Var(&f.overlap, "refresh-overlap", "`period` after a rotation in which the previous refresh token may be used once more (default 0)")
	fs.Var(&f.idle, "refresh-idle", "idle `lifetime` of a refresh token (default: the server's refresh_token_ttl)")
	fs.Var(&f.absolute, "refresh-absolute", "absolute `lifetime` of a refresh-token family (default: the server's)")
	fs.StringVar(&f.orgUsage, "organization-usage", "", "organizations: deny (default), allow or require")
	fs.StringVar(&f.orgBehavior, "organization-behavior", "", "with require and no organization parameter: no_prompt, pre_login_prompt or post_login_prompt")
	fs.StringVar(&f.initiateLoginURI, "initiate-login-uri", "", "the application's login route, opened by invitation links")
	fs.StringVar(&f.mfa, "mfa", "", "second factor: always, optional, never, or inherit the server's mfa.policy (default)")
	fs.BoolVar(&f.requireVerifiedEmail, "require-verified-email", false, "hold logins back until the user has verified their email address")
	fs.StringVar(&f.backchannelLogoutURI, "backchannel-logout-uri", "", "`URL` that receives logout tokens (OpenID Back-Channel Logout); \"\" turns it off")
	fs.BoolVar(&f.implicit, "allow-implicit", false, "regular_web and spa: allow ID tokens from /authorize (response_type id_token, code id_token)")
	f.clientTypeFlags.register(fs)
}

// settings returns the settings whose flags were set.
func (f *appFlags) settings(fs *flag.FlagSet) mgmt.ClientSettings {
	var s mgmt.ClientSettings
	duration := func(d durationFlag) *time.Duration { v := time.Duration(d); return &v }
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			s.Name = &f.name
		case "type":
			s.Type = &f.appType
		case "token-endpoint-auth-method":
			s.TokenEndpointAuthMethod = &f.method
		case "callback":
			s.Callbacks = (*[]string)(&f.callbacks)
		case "logout-url":
			s.LogoutURLs = (*[]string)(&f.logoutURLs)
		case "first-party":
			s.FirstParty = &f.firstParty
		case "allow-offline-access":
			s.AllowOfflineAccess = &f.offline
		case "allow-implicit":
			s.AllowImplicit = &f.implicit
		case "id-token-ttl":
			s.IDTokenTTL = duration(f.idTTL)
		case "access-token-ttl":
			s.AccessTokenTTL = duration(f.accessTTL)
		case "no-refresh-rotation":
			s.RefreshNoRotation = &f.noRotation
		case "refresh-overlap":
			s.RefreshOverlap = duration(f.overlap)
		case "refresh-idle":
			s.RefreshIdle = duration(f.idle)
		case "refresh-absolute":
			s.RefreshAbsolute = duration(f.absolute)
		case "organization-usage":
			s.OrganizationUsage = &f.orgUsage
		case "organization-behavior":
			s.OrganizationBehavior = &f.orgBehavior
		case "initiate-login-uri":
			s.InitiateLoginURI = &f.initiateLoginURI
		case "mfa":
			s.MFAPolicy = &f.mfa // "inherit" is stored as "" by mgmt
		case "require-verified-email":
			s.RequireVerifiedEmail = &f.requireVerifiedEmail
		case "backchannel-logout-uri":
			s.BackchannelLogoutURI = &f.backchannelLogoutURI
		default:
			f.clientTypeFlags.visit(fl.Name, &s)
		}
	})
	return s
}

func cmdAppsCreate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apps create", "apps create --name NAME [--type regular_web|spa|native|m2m] --callback URL [--callback URL …] [flags]")
	var f appFlags
	f.register(cmd.fs)
	var in mgmt.NewClient
	cmd.fs.StringVar(&in.ID, "client-id", "", "client id (generated when omitted)")
	cmd.fs.StringVar(&in.Secret, "client-secret", "", "client secret, at least 32 characters (generated when omitted)")
	cmd.fs.BoolVar(&in.NoDatabaseConnection, "no-database-connection", false, "do not enable username/password login ("+store.DefaultDatabaseConnection+") for the application")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if f.name == "" {
		return fmt.Errorf("%w: apps create: --name is required", errUsage)
	}
	if len(f.callbacks) == 0 && f.appType != store.ClientM2M {
		return fmt.Errorf("%w: apps create: at least one --callback is required", errUsage)
	}
	in.ClientSettings = f.settings(cmd.fs)
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		client, secret, err := svc.CreateClient(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "client_id: %s\n", client.ID)
		printSecret(e, client, secret)
		return nil
	})
}

// printSecret shows an application's new secret, once.
func printSecret(e env, c store.Client, secret string) {
	switch {
	case secret != "":
		fmt.Fprintf(e.stdout, "client_secret: %s\n", secret)
		fmt.Fprintln(e.stderr, "The client secret is shown only this once; store it now.")
	case c.Public():
		fmt.Fprintf(e.stderr, "%s is a public application: it has no secret and must use PKCE.\n", c.ID)
	}
}

func cmdAppsUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apps update", "apps update CLIENT_ID [flags]")
	var f appFlags
	f.register(cmd.fs)
	return cmd.runService(ctx, args, "CLIENT_ID", func(_ config.Config, svc *mgmt.Service, pos []string) error {
		client, secret, err := svc.UpdateClient(ctx, pos[0], f.settings(cmd.fs))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "updated %s\n", client.ID)
		if secret != "" {
			printSecret(e, client, secret)
		}
		return nil
	})
}

func cmdAppsShow(ctx context.Context, e env, args []string) error {
	return showOne(ctx, e, args, "apps show", "CLIENT_ID", func(svc *mgmt.Service, id string) (any, error) {
		c, err := svc.GetClient(ctx, id)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"client_id": c.ID, "name": c.Name, "type": c.Type, "token_endpoint_auth_method": c.TokenEndpointAuthMethod,
			"callbacks": c.Callbacks, "logout_urls": c.LogoutURLs,
			"grant_types": c.GrantTypes, "first_party": c.FirstParty, "allow_offline_access": c.AllowOfflineAccess,
			"id_token_ttl": c.IDTokenTTL.String(), "access_token_ttl": c.AccessTokenTTL.String(),
			"refresh": map[string]any{"rotation": !c.Refresh.NoRotation, "overlap": c.Refresh.Overlap.String(),
				"idle": c.Refresh.Idle.String(), "absolute": c.Refresh.Absolute.String()},
			"organization_usage": c.OrganizationUsage, "organization_behavior": c.OrganizationBehavior,
			"initiate_login_uri":     c.InitiateLoginURI,
			"mfa":                    cmp.Or(c.MFAPolicy, mfa.PolicyInherit),
			"require_verified_email": c.RequireVerifiedEmail,
			"web_origins":            c.WebOrigins,
			"allowed_origins":        c.AllowedOrigins,
			"require_pkce":           c.RequirePKCE || c.Public(),
			"id_token_alg":           cmp.Or(c.IDTokenSigningAlg, "RS256"),
			"jwks":                   json.RawMessage(cmp.Or(c.JWKS, "null")),
			"created_at":             c.CreatedAt,
			"backchannel_logout_uri": c.BackchannelLogoutURI,
		}, nil
	})
}

func cmdAppsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apps list", "apps list [--db DB]")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		clients, err := svc.ListClients(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, cl := range clients {
			rows = append(rows, []string{cl.ID, cl.Name, cl.Type, strconv.FormatBool(cl.FirstParty), strconv.FormatBool(cl.AllowOfflineAccess), strings.Join(cl.Callbacks, ",")})
		}
		return printTable(e.stdout, []string{"CLIENT_ID", "NAME", "TYPE", "FIRST_PARTY", "OFFLINE_ACCESS", "CALLBACKS"}, rows)
	})
}

func cmdAppsDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "apps delete", "CLIENT_ID", func(svc *mgmt.Service, id string) error {
		return svc.DeleteClient(ctx, id)
	})
}

func cmdUsersCreate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users create", "users create --email EMAIL [--name NAME] --password-stdin")
	email := cmd.fs.String("email", "", "email address (required)")
	name := cmd.fs.String("name", "", "full name")
	passwordStdin := cmd.fs.Bool("password-stdin", false, "read the password from standard input (required)")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
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
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		u, err := svc.CreateUser(ctx, mgmt.NewUser{Connection: store.DefaultDatabaseConnection, Email: *email, Password: password, Name: *name})
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
	cmd := newStoreCmd(e, "users list", "users list [--db DB]")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		users, err := svc.ListUsers(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, u := range users {
			rows = append(rows, []string{u.ID, u.Email, u.Name, strconv.Itoa(u.LoginsCount), u.CreatedAt.Format(time.RFC3339)})
		}
		return printTable(e.stdout, []string{"USER_ID", "EMAIL", "NAME", "LOGINS", "CREATED"}, rows)
	})
}

func cmdUsersUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users update", "users update USER_ID [--name NAME] [--app-metadata JSON] [--user-metadata JSON] [--blocked=true|false]")
	name := cmd.fs.String("name", "", "full name")
	appMeta := cmd.fs.String("app-metadata", "", "app_metadata as a JSON object (replaces it)")
	userMeta := cmd.fs.String("user-metadata", "", "user_metadata as a JSON object (replaces it)")
	blocked := cmd.fs.Bool("blocked", false, "block (true) or unblock (false) the user")
	emailVerified := cmd.fs.Bool("email-verified", false, "mark the email address verified or not")
	return cmd.runService(ctx, args, "USER_ID", func(_ config.Config, svc *mgmt.Service, pos []string) error {
		// An unknown user is reported before a malformed flag value.
		if _, err := svc.GetUser(ctx, pos[0]); err != nil {
			return err
		}
		var in mgmt.UserSettings
		var perr error
		cmd.fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "name":
				in.Name = name
			case "blocked":
				in.Blocked = blocked
			case "email-verified":
				in.EmailVerified = emailVerified
			case "app-metadata", "user-metadata":
				m := map[string]any{}
				raw := *appMeta
				if f.Name == "user-metadata" {
					raw = *userMeta
				}
				if err := json.Unmarshal([]byte(raw), &m); err != nil && perr == nil {
					perr = fmt.Errorf("--%s: not a JSON object: %v", f.Name, err)
				}
				if f.Name == "app-metadata" {
					in.AppMetadata = &m
				} else {
					in.UserMetadata = &m
				}
			}
		})
		if perr != nil {
			return perr
		}
		u, err := svc.UpdateUser(ctx, pos[0], in)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "updated %s\n", u.ID)
		return nil
	})
}

func cmdUsersShow(ctx context.Context, e env, args []string) error {
	return showOne(ctx, e, args, "users show", "USER_ID", func(svc *mgmt.Service, id string) (any, error) {
		u, err := svc.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		ids := make([]map[string]string, len(u.Identities))
		for i, x := range u.Identities {
			ids[i] = map[string]string{"connection": x.Connection, "provider": x.Provider, "user_id": x.UserID}
		}
		return map[string]any{
			"user_id": u.ID, "connection": u.Connection, "email": u.Email, "email_verified": u.EmailVerified,
			"name": u.Name, "nickname": u.Nickname, "picture": u.Picture, "given_name": u.GivenName, "family_name": u.FamilyName,
			"blocked": u.Blocked, "logins_count": u.LoginsCount, "last_login": u.LastLogin, "identities": ids,
			"app_metadata": u.AppMetadata, "user_metadata": u.UserMetadata, "created_at": u.CreatedAt, "updated_at": u.UpdatedAt,
		}, nil
	})
}

// cmdUsersLink merges a second account into a first: the explicit linking
// that Gatehouse never does by itself on matching emails.
func cmdUsersLink(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users link", "users link PRIMARY_USER_ID SECONDARY_USER_ID")
	pos, err := parseFlags(cmd.fs, args)
	cmd.pos = pos
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: users link takes PRIMARY_USER_ID and SECONDARY_USER_ID", errUsage)
	}
	if pos[0] == pos[1] {
		return fmt.Errorf("%w: users link needs two different users", errUsage)
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		u, err := svc.LinkUsers(ctx, pos[0], pos[1])
		if err != nil {
			return fmt.Errorf("users link: %w", err)
		}
		fmt.Fprintf(e.stdout, "linked %s into %s; identities:", pos[1], u.ID)
		for _, id := range u.Identities {
			fmt.Fprintf(e.stdout, " %s|%s", id.Provider, id.UserID)
		}
		fmt.Fprintln(e.stdout)
		return nil
	})
}

func cmdUsersDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "users delete", "USER_ID", func(svc *mgmt.Service, id string) error {
		return svc.DeleteUser(ctx, id)
	})
}

func cmdKeysRotate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "keys rotate", "keys rotate [--db DB] [--force]")
	force := cmd.fs.Bool("force", false, "rotate even if the next key may not be known to every verifier yet")
	cmd.serviceNeeds = withSigningKeys(e)
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		// The rule (wait until the next key has settled) is the service's,
		// which the management API applies too.
		if _, err := svc.RotateSigningKeys(ctx, *force); err != nil {
			if me := (*mgmt.Error)(nil); errors.As(err, &me) && me.Code == mgmt.CodeKeyNotSettled {
				return fmt.Errorf("%s; or use --force", me.Message)
			}
			return err
		}
		return printKeys(ctx, e, svc)
	})
}

func cmdKeysRevoke(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "keys revoke", "keys revoke KID [--db DB]")
	cmd.serviceNeeds = withSigningKeys(e)
	return cmd.runService(ctx, args, "KID", func(_ config.Config, svc *mgmt.Service, pos []string) error {
		if _, err := svc.RevokeSigningKey(ctx, pos[0]); err != nil {
			return err
		}
		return printKeys(ctx, e, svc)
	})
}

// withSigningKeys gives the management service the signing keys and the
// token settings that decide when a rotation is safe.
func withSigningKeys(e env) func(ctx context.Context, cfg config.Config, st store.Store, mc *mgmt.Config) error {
	return func(ctx context.Context, cfg config.Config, st store.Store, mc *mgmt.Config) error {
		keys, err := openKeys(ctx, cfg, st, slog.New(slog.NewTextHandler(e.stderr, nil)))
		if err != nil {
			return err
		}
		mc.Signing, mc.Tokens = keys, cfg.Tokens
		return nil
	}
}

func cmdKeysList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "keys list", "keys list [--db DB]")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error { return printKeys(ctx, e, svc) })
}

func printKeys(ctx context.Context, e env, svc *mgmt.Service) error {
	keys, err := svc.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, k := range keys {
		retire, revoked := "-", "-"
		if !k.RetireAt.IsZero() {
			retire = k.RetireAt.Format(time.RFC3339)
		}
		if !k.RevokedAt.IsZero() {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		rows = append(rows, []string{k.KID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339), retire, revoked})
	}
	return printTable(e.stdout, []string{"KID", "ALG", "STATE", "CREATED", "RETIRES", "REVOKED"}, rows)
}
