package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"gatehouse/examples/webapp"
	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/email"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
)

// Demo credentials, printed at start.
const (
	demoClientID = "demo-app"
	demoEmail    = "demo@example.com"
	demoPassword = "gatehouse-demo"
	demoInvitee  = "new.user@example.com"
)

func cmdDemo(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "demo", "demo [--addr ADDR] [--issuer URL] [--app-addr ADDR] [--app-url URL]")
	addr := fs.String("addr", "127.0.0.1:8080", "provider listen `address`")
	issuer := fs.String("issuer", "http://localhost:8080", "provider public `URL`")
	appAddr := fs.String("app-addr", "127.0.0.1:3000", "example web app listen `address`")
	appURL := fs.String("app-url", "http://localhost:3000", "example web app public `URL`")
	dataDir := fs.String("data-dir", "", "keep the demo database in this `directory` (default: a fresh temporary one)")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "gatehouse-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	cfg := config.Default()
	cfg.Addr, cfg.Issuer, cfg.DataDir = *addr, *issuer, dir
	// Users may set up an authenticator app, security keys and passkeys.
	cfg.MFA.Policy = config.MFAOptional
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := newLogger(e.stderr, cfg)

	secret, invitationURL, err := seedDemo(ctx, cfg, *appURL)
	if err != nil {
		return err
	}
	backOfficeSecret, err := seedDemoBackOffice(ctx, cfg)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan string, 1)
	serveErr := make(chan error, 1)
	go func() {
		// Emails (verification, password reset) are printed here, links
		// included, instead of being sent.
		serveErr <- serve(ctx, cfg, log, func(a string) { ready <- a }, server.WithMail(email.NewPrinter(e.stdout)))
	}()
	select {
	case <-ready:
	case err := <-serveErr:
		return err
	}

	app, err := webapp.New(ctx, webapp.Config{
		Issuer: cfg.Issuer, ClientID: demoClientID, ClientSecret: secret, BaseURL: *appURL, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *appAddr)
	if err != nil {
		return fmt.Errorf("example app: listen: %w", err)
	}
	appSrv := &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = appSrv.Serve(ln) }()

	base := config.IssuerURL(cfg.Issuer, "")
	fmt.Fprintf(e.stdout, `
Gatehouse demo is running.

  Open the example app:  %s
  Log in with:           %s / %s

  Log in to the organization "acme":
                         %s/login?organization=acme
  Accept an invitation to "acme" as %s (sign up with a password of your choice):
                         %s

  Two-step verification and passkeys, once logged in:
                         %s/u/account/security
  Forgot the password? Click "Forgot password?" on the login page: the
  demo prints every email (and its link) here instead of sending it.

  Admin console:         %s/admin/
                         (log in as %s, an admin)

  Management API (%s/api/v2, OpenAPI at %s/api/v2/openapi.json), as the
  m2m application %s with every management scope:
    TOKEN=$(curl -s %s/oauth/token -d grant_type=client_credentials \
      -d client_id=%s -d client_secret=%s \
      -d audience=%s | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
    curl -H "Authorization: Bearer $TOKEN" %s/api/v2/users

  Provider (issuer):     %s
  Demo application:      client_id %s
  Data directory:        %s

Press Ctrl+C to stop.
`, *appURL, demoEmail, demoPassword, *appURL, demoInvitee, invitationURL, base,
		base, demoEmail, base, base, demoBackOfficeID, base, demoBackOfficeID, backOfficeSecret, store.ManagementAudience(cfg.Issuer), base,
		cfg.Issuer, demoClientID, dir)

	err = <-serveErr
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = appSrv.Shutdown(sctx)
	return err
}

// seedDemo registers the demo application and user, and returns the
// application's secret. Re-running on a kept data directory rotates nothing
// but the secret.
func seedDemo(ctx context.Context, cfg config.Config, appURL string) (secret, invitationURL string, err error) {
	err = withStore(ctx, cfg, func(st store.Store) error {
		svc, err := mgmt.New(mgmt.Config{Store: st})
		if err != nil {
			return err
		}
		if err := svc.DeleteClient(ctx, demoClientID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		name, offline, usage, login := "Gatehouse Demo App", true, store.OrgUsageAllow, appURL+"/login"
		_, s, err := svc.CreateClient(ctx, mgmt.NewClient{ID: demoClientID, ClientSettings: mgmt.ClientSettings{
			Name:               &name,
			Callbacks:          &[]string{appURL + "/callback"},
			LogoutURLs:         &[]string{appURL + "/"},
			AllowOfflineAccess: &offline,
			OrganizationUsage:  &usage,
			InitiateLoginURI:   &login,
		}})
		if err != nil {
			return err
		}
		secret = s
		db, err := database.Open(server.DatabaseConfig(cfg, st))
		if err != nil {
			return err
		}
		user, err := db.SignUp(ctx, demoEmail, demoPassword, "Demo User")
		if errors.Is(err, store.ErrConflict) {
			user, err = st.GetUserByEmail(ctx, store.DefaultDatabaseConnection, demoEmail)
		}
		if err != nil {
			return err
		}
		invitationURL, err = seedDemoOrg(ctx, svc, user)
		return err
	})
	return secret, invitationURL, err
}

// demoBackOfficeID is the demo's machine-to-machine application, which may
// call the whole management API.
const demoBackOfficeID = "demo-back-office"

// seedDemoBackOffice registers the demo's m2m application with a grant of
// every management scope, and returns its new secret.
func seedDemoBackOffice(ctx context.Context, cfg config.Config) (secret string, err error) {
	err = withStore(ctx, cfg, func(st store.Store) error {
		svc, err := mgmt.New(mgmt.Config{Store: st, Issuer: cfg.Issuer})
		if err != nil {
			return err
		}
		if err := svc.DeleteClient(ctx, demoBackOfficeID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		name, typ := "Demo back office", store.ClientM2M
		if _, secret, err = svc.CreateClient(ctx, mgmt.NewClient{ID: demoBackOfficeID,
			ClientSettings: mgmt.ClientSettings{Name: &name, Type: &typ}}); err != nil {
			return err
		}
		if _, err = svc.CreateClientGrant(ctx, mgmt.NewClientGrant{ClientID: demoBackOfficeID,
			Audience: store.ManagementAudience(cfg.Issuer), Scopes: mgmt.ManagementScopeNames()}); err != nil {
			return err
		}
		// The demo user administers the demo in the admin console.
		_, err = svc.AddAdmin(ctx, demoEmail, false)
		return err
	})
	return secret, err
}

// seedDemoOrg creates the organization "acme" with the demo user as a
// member, and an invitation for a new user to join it.
func seedDemoOrg(ctx context.Context, svc *mgmt.Service, user store.User) (string, error) {
	org, err := svc.GetOrganization(ctx, "acme")
	if errors.Is(err, store.ErrNotFound) {
		name, display, color := "acme", "Acme Corporation", "#b4441c"
		org, err = svc.CreateOrganization(ctx, mgmt.OrganizationSettings{Name: &name, DisplayName: &display, PrimaryColor: &color})
		if err == nil {
			_, err = svc.SetOrganizationConnection(ctx, org.ID, store.DefaultDatabaseConnection, false, true)
		}
	}
	if err != nil {
		return "", err
	}
	if _, _, err := svc.AddMember(ctx, org.ID, user.ID); err != nil {
		return "", err
	}
	_, link, err := svc.CreateInvitation(ctx, mgmt.NewInvitation{Organization: org.ID, Email: demoInvitee, ClientID: demoClientID})
	return link, err
}
