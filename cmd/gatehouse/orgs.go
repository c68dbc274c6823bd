package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

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

// settings returns the settings whose flags were set.
func (f *orgFlags) settings(fs *flag.FlagSet) mgmt.OrganizationSettings {
	var s mgmt.OrganizationSettings
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			s.Name = &f.name
		case "display-name":
			s.DisplayName = &f.displayName
		case "logo-url":
			s.LogoURL = &f.logoURL
		case "color":
			s.PrimaryColor = &f.color
		}
	})
	return s
}

// findUser looks a user up by id ("provider|id") or by database email.
func findUser(ctx context.Context, st store.Store, idOrEmail string) (store.User, error) {
	svc, err := mgmt.New(mgmt.Config{Store: st})
	if err != nil {
		return store.User{}, err
	}
	return svc.FindUser(ctx, idOrEmail)
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
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		o, err := svc.CreateOrganization(ctx, f.settings(cmd.fs))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "org_id: %s\n", o.ID)
		return nil
	})
}

func cmdOrgsUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "orgs update", "orgs update ORG [flags]")
	var f orgFlags
	f.register(cmd.fs)
	return cmd.runService(ctx, args, "ORG (id or name)", func(_ config.Config, svc *mgmt.Service, pos []string) error {
		o, err := svc.UpdateOrganization(ctx, pos[0], f.settings(cmd.fs))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "updated %s\n", o.ID)
		return nil
	})
}

func cmdOrgsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "orgs list", "orgs list [--db DB]")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		orgs, err := svc.ListOrganizations(ctx)
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
	return showOne(ctx, e, args, "orgs show", "ORG", func(svc *mgmt.Service, id string) (any, error) {
		o, err := svc.GetOrganization(ctx, id)
		if err != nil {
			return nil, err
		}
		members, err := svc.ListMembers(ctx, o.ID)
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
	return deleteOne(ctx, e, args, "orgs delete", "ORG", func(svc *mgmt.Service, id string) error {
		return svc.DeleteOrganization(ctx, id)
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
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		if verb == "list" {
			ids, err := svc.ListMembers(ctx, *orgArg)
			if err != nil {
				return err
			}
			for _, id := range ids {
				fmt.Fprintln(e.stdout, id)
			}
			return nil
		}
		add := svc.AddMember
		if verb == "remove" {
			add = svc.RemoveMember
		}
		o, u, err := add(ctx, *orgArg, *userArg)
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
	cmd.pos = pos
	if err != nil {
		return err
	}
	if len(pos) != 1 || *orgArg == "" {
		return fmt.Errorf("%w: orgs connections %s needs --org ORG and one connection NAME", errUsage, verb)
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		o, err := svc.SetOrganizationConnection(ctx, *orgArg, pos[0], *assign, verb == "enable")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd connection %s for %s\n", verb, pos[0], o.Name)
		return nil
	})
}

func cmdOrgsInvite(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "orgs invite", "orgs invite --org ORG --email EMAIL --app CLIENT_ID [--connection NAME] [--ttl 7d]")
	var in mgmt.NewInvitation
	cmd.fs.StringVar(&in.Organization, "org", "", "organization id or name (required)")
	cmd.fs.StringVar(&in.Email, "email", "", "the invitee's email address (required)")
	cmd.fs.StringVar(&in.ClientID, "app", "", "the application whose login route the invitation opens (required)")
	cmd.fs.StringVar(&in.Connection, "connection", "", "the connection the invitee must use (optional)")
	ttl := durationFlag(7 * 24 * time.Hour)
	cmd.fs.Var(&ttl, "ttl", "how long the invitation is valid (default 7d)")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if in.Organization == "" || in.Email == "" || in.ClientID == "" {
		return fmt.Errorf("%w: orgs invite needs --org, --email and --app", errUsage)
	}
	in.TTL = time.Duration(ttl)
	if in.TTL == 0 {
		in.TTL = -1 // --ttl 0 is out of range, not the default
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		inv, link, err := svc.CreateInvitation(ctx, in)
		var me *mgmt.Error
		if errors.As(err, &me) {
			switch me.Field {
			case "initiate_login_uri":
				return fmt.Errorf("application %s has no login route: set it with apps update %s --initiate-login-uri URL", in.ClientID, in.ClientID)
			case "organization_usage":
				return fmt.Errorf("application %s does not use organizations: set apps update %s --organization-usage allow or require", in.ClientID, in.ClientID)
			}
		}
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(e.stdout, "invitation_id: %s\nurl: %s\nexpires: %s\n", inv.ID, link, inv.ExpiresAt.Format(time.RFC3339))
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
	cmd.pos = pos
	if err != nil {
		return err
	}
	if (verb == "list" && (*orgArg == "" || len(pos) != 0)) || (verb == "revoke" && len(pos) != 1) {
		return fmt.Errorf("%w: use orgs invitations list --org ORG, or orgs invitations revoke INVITATION_ID", errUsage)
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		if verb == "revoke" {
			if err := svc.RevokeInvitation(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %s\n", pos[0])
			return nil
		}
		invs, err := svc.ListInvitations(ctx, *orgArg)
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
