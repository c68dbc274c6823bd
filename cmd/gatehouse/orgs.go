package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

var (
	orgNamePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,49}$`)
	orgColorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// randomID returns prefix + 16 random hex characters.
func randomID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// orgFlags are an organization's settings, shared by create and update.
type orgFlags struct {
	name, displayName, logoURL, color string
}

func (f *orgFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "unique lowercase name (a-z 0-9 -)")
	fs.StringVar(&f.displayName, "display-name", "", "name shown on the hosted pages")
	fs.StringVar(&f.logoURL, "logo-url", "", "https URL of the logo shown on the hosted pages")
	fs.StringVar(&f.color, "color", "", "primary color on the hosted pages, #RRGGBB")
}

func (f *orgFlags) apply(fs *flag.FlagSet, o *store.Organization) {
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			o.Name = f.name
		case "display-name":
			o.DisplayName = f.displayName
		case "logo-url":
			o.LogoURL = f.logoURL
		case "color":
			o.PrimaryColor = f.color
		}
	})
}

func validateOrg(o store.Organization) error {
	if !orgNamePattern.MatchString(o.Name) {
		return fmt.Errorf("organization name %q must be 1 to 50 characters of a-z 0-9 - (starting with a letter or digit)", o.Name)
	}
	if o.LogoURL != "" {
		u, err := url.Parse(o.LogoURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("logo URL %q must be an https URL", o.LogoURL)
		}
	}
	if o.PrimaryColor != "" && !orgColorPattern.MatchString(o.PrimaryColor) {
		return fmt.Errorf("color %q must be #RRGGBB", o.PrimaryColor)
	}
	return nil
}

// findOrg looks an organization up by id or name, with a clear error.
func findOrg(ctx context.Context, st store.Store, idOrName string) (store.Organization, error) {
	o, err := oauth.FindOrganization(ctx, st, idOrName)
	if err != nil {
		return o, notFound("organization", idOrName, err)
	}
	return o, nil
}

// findUser looks a user up by id ("provider|id") or by database email.
func findUser(ctx context.Context, st store.Store, idOrEmail string) (store.User, error) {
	var u store.User
	var err error
	if strings.Contains(idOrEmail, "|") {
		u, err = st.GetUser(ctx, idOrEmail)
	} else {
		u, err = st.GetUserByEmail(ctx, store.DefaultDatabaseConnection, strings.ToLower(idOrEmail))
	}
	if err != nil {
		return u, notFound("user", idOrEmail, err)
	}
	return u, nil
}

func cmdOrgsCreate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "orgs create", "orgs create --name NAME [--display-name …] [--logo-url …] [--color …]")
	var f orgFlags
	f.register(cmd.fs)
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if f.name == "" {
		return fmt.Errorf("%w: orgs create: --name is required", errUsage)
	}
	now := time.Now().UTC()
	o := store.Organization{ID: randomID("org_"), CreatedAt: now, UpdatedAt: now}
	f.apply(cmd.fs, &o)
	if o.DisplayName == "" {
		o.DisplayName = o.Name
	}
	if err := validateOrg(o); err != nil {
		return err
	}
	return cmd.open(ctx, func(_ config.Config, st store.Store) error {
		if err := st.CreateOrganization(ctx, o); err != nil {
			return conflict(err, "an organization named %q", o.Name)
		}
		fmt.Fprintf(e.stdout, "org_id: %s\n", o.ID)
		return nil
	})
}

func cmdOrgsUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "orgs update", "orgs update ORG [flags]")
	var f orgFlags
	f.register(cmd.fs)
	return cmd.run(ctx, args, "ORG (id or name)", func(_ config.Config, st store.Store, pos []string) error {
		o, err := findOrg(ctx, st, pos[0])
		if err != nil {
			return err
		}
		f.apply(cmd.fs, &o)
		if err := validateOrg(o); err != nil {
			return err
		}
		o.UpdatedAt = time.Now().UTC()
		if err := st.UpdateOrganization(ctx, o); err != nil {
			return conflict(err, "an organization named %q", o.Name)
		}
		fmt.Fprintf(e.stdout, "updated %s\n", o.ID)
		return nil
	})
}

func cmdOrgsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "orgs list", "orgs list [--db DB]")
	return cmd.run(ctx, args, "", func(_ config.Config, st store.Store, _ []string) error {
		orgs, err := st.ListOrganizations(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, o := range orgs {
			names := make([]string, len(o.Connections))
			for i, c := range o.Connections {
				names[i] = c.Name
			}
			rows = append(rows, []string{o.ID, o.Name, o.DisplayName, strings.Join(names, ",")})
		}
		return printTable(e.stdout, []string{"ORG_ID", "NAME", "DISPLAY_NAME", "CONNECTIONS"}, rows)
	})
}

func cmdOrgsShow(ctx context.Context, e env, args []string) error {
	return showOne(ctx, e, args, "orgs show", "ORG", func(st store.Store, id string) (any, error) {
		o, err := findOrg(ctx, st, id)
		if err != nil {
			return nil, err
		}
		members, err := st.ListMembers(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		conns := make([]map[string]any, len(o.Connections))
		for i, c := range o.Connections {
			conns[i] = map[string]any{"name": c.Name, "assign_membership_on_login": c.AssignMembership}
		}
		return map[string]any{"org_id": o.ID, "name": o.Name, "display_name": o.DisplayName, "logo_url": o.LogoURL,
			"color": o.PrimaryColor, "connections": conns, "members": members, "created_at": o.CreatedAt}, nil
	})
}

func cmdOrgsDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "orgs delete", "ORG", func(st store.Store, id string) error {
		o, err := findOrg(ctx, st, id)
		if err != nil {
			return err
		}
		return st.DeleteOrganization(ctx, o.ID)
	})
}

// cmdOrgsMembers implements "orgs members add|remove|list".
func cmdOrgsMembers(ctx context.Context, e env, args []string) error {
	verb, err := pickVerb(e, args, "Usage: gatehouse orgs members <add|remove|list> --org ORG [--user EMAIL_OR_ID]",
		"orgs members needs add, remove or list", "add", "remove", "list")
	if err != nil {
		return err
	}
	cmd := newStoreCmd(e, "orgs members "+verb, "orgs members "+verb+" --org ORG --user EMAIL_OR_ID")
	orgArg := cmd.fs.String("org", "", "organization id or name (required)")
	userArg := cmd.fs.String("user", "", "user id or email address")
	if _, err := cmd.parse(args[1:], ""); err != nil {
		return err
	}
	if *orgArg == "" || (verb != "list" && *userArg == "") {
		return fmt.Errorf("%w: orgs members %s needs --org%s", errUsage, verb, map[bool]string{true: "", false: " and --user"}[verb == "list"])
	}
	return cmd.open(ctx, func(_ config.Config, st store.Store) error {
		o, err := findOrg(ctx, st, *orgArg)
		if err != nil {
			return err
		}
		if verb == "list" {
			ids, err := st.ListMembers(ctx, o.ID)
			if err != nil {
				return err
			}
			for _, id := range ids {
				fmt.Fprintln(e.stdout, id)
			}
			return nil
		}
		u, err := findUser(ctx, st, *userArg)
		if err != nil {
			return err
		}
		if verb == "add" {
			err = st.AddMember(ctx, o.ID, u.ID)
		} else if err = st.RemoveMember(ctx, o.ID, u.ID); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s is not a member of %s", u.ID, o.Name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %s %s\n", map[string]string{"add": "added", "remove": "removed"}[verb], u.ID, o.Name)
		return nil
	})
}

// cmdOrgsConnections implements "orgs connections enable|disable".
func cmdOrgsConnections(ctx context.Context, e env, args []string) error {
	verb, err := pickVerb(e, args, "Usage: gatehouse orgs connections <enable|disable> --org ORG NAME",
		"orgs connections needs enable or disable", "enable", "disable")
	if err != nil {
		return err
	}
	cmd := newStoreCmd(e, "orgs connections "+verb, "orgs connections "+verb+" --org ORG NAME")
	orgArg := cmd.fs.String("org", "", "organization id or name (required)")
	assign := cmd.fs.Bool("assign-membership", false, "users who log in through this connection become members automatically")
	pos, err := parseFlags(cmd.fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *orgArg == "" {
		return fmt.Errorf("%w: orgs connections %s needs --org ORG and one connection NAME", errUsage, verb)
	}
	return cmd.open(ctx, func(_ config.Config, st store.Store) error {
		o, err := findOrg(ctx, st, *orgArg)
		if err != nil {
			return err
		}
		if _, err := st.GetConnection(ctx, pos[0]); err != nil {
			return notFound("connection", pos[0], err)
		}
		if err := st.SetOrgConnection(ctx, o.ID, store.OrgConnection{Name: pos[0], AssignMembership: *assign}, verb == "enable"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd connection %s for %s\n", verb, pos[0], o.Name)
		return nil
	})
}

func cmdOrgsInvite(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "orgs invite", "orgs invite --org ORG --email EMAIL --app CLIENT_ID [--connection NAME] [--ttl 7d]")
	orgArg := cmd.fs.String("org", "", "organization id or name (required)")
	email := cmd.fs.String("email", "", "the invitee's email address (required)")
	app := cmd.fs.String("app", "", "the application whose login route the invitation opens (required)")
	conn := cmd.fs.String("connection", "", "the connection the invitee must use (optional)")
	ttl := durationFlag(7 * 24 * time.Hour)
	cmd.fs.Var(&ttl, "ttl", "how long the invitation is valid (default 7d)")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if *orgArg == "" || *email == "" || *app == "" {
		return fmt.Errorf("%w: orgs invite needs --org, --email and --app", errUsage)
	}
	if ttl <= 0 || time.Duration(ttl) > 30*24*time.Hour {
		return errors.New("--ttl must be between 1s and 30d")
	}
	addr := strings.ToLower(strings.TrimSpace(*email))
	if !strings.Contains(addr, "@") || strings.ContainsAny(addr, " <>\"") {
		return fmt.Errorf("%q is not a valid email address", *email)
	}
	return cmd.open(ctx, func(_ config.Config, st store.Store) error {
		o, err := findOrg(ctx, st, *orgArg)
		if err != nil {
			return err
		}
		client, err := st.GetClient(ctx, *app)
		if err != nil {
			return notFound("application", *app, err)
		}
		if client.InitiateLoginURI == "" {
			return fmt.Errorf("application %s has no login route: set it with apps update %s --initiate-login-uri URL", client.ID, client.ID)
		}
		if client.OrganizationUsage == "" || client.OrganizationUsage == store.OrgUsageDeny {
			return fmt.Errorf("application %s does not use organizations: set apps update %s --organization-usage allow or require", client.ID, client.ID)
		}
		if *conn != "" {
			if _, err := st.GetConnection(ctx, *conn); err != nil {
				return notFound("connection", *conn, err)
			}
		}
		ticket := token.NewOpaque()
		now := time.Now().UTC()
		inv := store.Invitation{ID: randomID("inv_"), TicketHash: token.Hash(ticket), OrganizationID: o.ID, Email: addr,
			ClientID: client.ID, Connection: *conn, CreatedAt: now, ExpiresAt: now.Add(time.Duration(ttl))}
		if err := st.CreateInvitation(ctx, inv); err != nil {
			return err
		}
		q := url.Values{"invitation": {ticket}, "organization": {o.ID}, "organization_name": {o.Name}}
		sep := "?"
		if strings.Contains(client.InitiateLoginURI, "?") {
			sep = "&"
		}
		fmt.Fprintf(e.stdout, "invitation_id: %s\nurl: %s%s%s\nexpires: %s\n", inv.ID, client.InitiateLoginURI, sep, q.Encode(), inv.ExpiresAt.Format(time.RFC3339))
		return nil
	})
}

// cmdOrgsInvitations implements "orgs invitations list|revoke".
func cmdOrgsInvitations(ctx context.Context, e env, args []string) error {
	verb, err := pickVerb(e, args, "Usage: gatehouse orgs invitations <list|revoke> (list --org ORG | revoke INVITATION_ID)",
		"orgs invitations needs list or revoke", "list", "revoke")
	if err != nil {
		return err
	}
	cmd := newStoreCmd(e, "orgs invitations "+verb, "orgs invitations list --org ORG | revoke INVITATION_ID")
	orgArg := cmd.fs.String("org", "", "organization id or name (list)")
	pos, err := parseFlags(cmd.fs, args[1:])
	if err != nil {
		return err
	}
	if (verb == "list" && (*orgArg == "" || len(pos) != 0)) || (verb == "revoke" && len(pos) != 1) {
		return fmt.Errorf("%w: use orgs invitations list --org ORG, or orgs invitations revoke INVITATION_ID", errUsage)
	}
	return cmd.open(ctx, func(_ config.Config, st store.Store) error {
		if verb == "revoke" {
			if err := st.RevokeInvitation(ctx, pos[0]); err != nil {
				return notFound("invitation", pos[0], err)
			}
			fmt.Fprintf(e.stdout, "revoked %s\n", pos[0])
			return nil
		}
		o, err := findOrg(ctx, st, *orgArg)
		if err != nil {
			return err
		}
		invs, err := st.ListInvitations(ctx, o.ID)
		if err != nil {
			return err
		}
		var rows [][]string
		now := time.Now()
		for _, inv := range invs {
			status := "pending"
			switch {
			case inv.Revoked:
				status = "revoked"
			case inv.UsedAt != nil:
				status = "accepted by " + inv.UsedBy
			case !now.Before(inv.ExpiresAt):
				status = "expired"
			}
			rows = append(rows, []string{inv.ID, inv.Email, inv.ClientID, status, inv.ExpiresAt.Format(time.RFC3339)})
		}
		return printTable(e.stdout, []string{"INVITATION_ID", "EMAIL", "APP", "STATUS", "EXPIRES"}, rows)
	})
}
