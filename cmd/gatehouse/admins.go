package main

import (
	"context"

	"fmt"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
)

// cmdAdminsAdd is "admins add": the user may use the admin console (and,
// through it, the management API), fully or read-only.
func cmdAdminsAdd(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "admins add", "admins add EMAIL [--read-only]")
	readOnly := cmd.fs.Bool("read-only", false, "read-only: the console shows everything and changes nothing")
	return cmd.runService(ctx, args, "EMAIL (or user id)", func(cfg config.Config, svc *mgmt.Service, pos []string) error {
		u, err := svc.AddAdmin(ctx, pos[0], *readOnly)
		if err != nil {
			return err
		}
		role := mgmt.AdminRole
		if *readOnly {
			role = mgmt.ReadOnlyAdminRole
		}
		fmt.Fprintf(e.stdout, "%s is now an admin (%s)\nconsole: %s\n", u.ID, role, config.IssuerURL(cfg.Issuer, "/admin/"))
		return nil
	})
}

func cmdAdminsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "admins list", "admins list")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		admins, err := svc.ListAdmins(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, a := range admins {
			access := "full"
			if a.ReadOnly {
				access = "read-only"
			}
			rows = append(rows, []string{a.User.ID, a.User.Email, access})
		}
		return printTable(e.stdout, []string{"USER_ID", "EMAIL", "ACCESS"}, rows)
	})
}

func cmdAdminsRemove(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "admins remove", "admins remove EMAIL")
	return cmd.runService(ctx, args, "EMAIL (or user id)", func(_ config.Config, svc *mgmt.Service, pos []string) error {
		u, err := svc.RemoveAdmin(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s is no longer an admin\n", u.ID)
		return nil
	})
}
