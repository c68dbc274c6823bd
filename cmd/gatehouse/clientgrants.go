package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// cmdClientGrantsCreate is "client-grants create": which API a
// machine-to-machine application may get tokens for, with which scopes.
func cmdClientGrantsCreate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "client-grants create", `client-grants create --client-id ID --audience API_IDENTIFIER [--scope "a b"]`)
	var in mgmt.NewClientGrant
	cmd.fs.StringVar(&in.ClientID, "client-id", "", "the m2m application's client id (required)")
	cmd.fs.StringVar(&in.Audience, "audience", "", "the API's identifier (required)")
	scope := cmd.fs.String("scope", "", "space-separated scopes of the API the application may get")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if in.ClientID == "" || in.Audience == "" {
		return fmt.Errorf("%w: client-grants create needs --client-id and --audience", errUsage)
	}
	in.Scopes = strings.Fields(*scope)
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		g, err := svc.CreateClientGrant(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "client_grant_id: %s\n", g.ID)
		return nil
	})
}

func cmdClientGrantsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "client-grants list", "client-grants list [--client-id ID] [--audience API_IDENTIFIER]")
	var f store.ClientGrantFilter
	cmd.fs.StringVar(&f.ClientID, "client-id", "", "only the grants of this application")
	cmd.fs.StringVar(&f.Audience, "audience", "", "only the grants for this API")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		grants, err := svc.ListClientGrants(ctx, f)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, g := range grants {
			rows = append(rows, []string{g.ID, g.ClientID, g.Audience, strings.Join(g.Scopes, " ")})
		}
		return printTable(e.stdout, []string{"ID", "CLIENT_ID", "AUDIENCE", "SCOPES"}, rows)
	})
}

func cmdClientGrantsUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "client-grants update", `client-grants update ID --scope "a b"`)
	scope := cmd.fs.String("scope", "", "space-separated scopes; replaces the grant's (required)")
	pos, err := cmd.parse(args, "ID")
	if err != nil {
		return err
	}
	set := false
	cmd.fs.Visit(func(f *flag.Flag) { set = set || f.Name == "scope" })
	if !set {
		return fmt.Errorf("%w: client-grants update needs --scope (\"\" for none)", errUsage)
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		g, err := svc.UpdateClientGrant(ctx, pos[0], strings.Fields(*scope))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "updated %s\n", g.ID)
		return nil
	})
}

func cmdClientGrantsDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "client-grants delete", "ID", func(svc *mgmt.Service, id string) error {
		return svc.DeleteClientGrant(ctx, id)
	})
}
