package main

import (
	"context"
	"fmt"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// cmdRolesCreate is "roles create": a role with no permissions yet.
func cmdRolesCreate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "roles create", "roles create --name NAME [--description TEXT]")
	var in mgmt.RoleSettings
	name := cmd.fs.String("name", "", "the role's name, unique (required)")
	desc := cmd.fs.String("description", "", "what the role is for")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: roles create: --name is required", errUsage)
	}
	in.Name, in.Description = name, desc
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		r, err := svc.CreateRole(ctx, in)
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(e.stdout, "role_id: %s\n", r.ID)
		return nil
	})
}

func cmdRolesList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "roles list", "roles list [--name-filter TEXT]")
	var f store.RoleFilter
	cmd.fs.StringVar(&f.NameContains, "name-filter", "", "only the roles whose name contains TEXT, in any case")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		roles, _, err := svc.ListRoles(ctx, f)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, r := range roles {
			rows = append(rows, []string{r.ID, r.Name, r.Description})
		}
		return printTable(e.stdout, []string{"ID", "NAME", "DESCRIPTION"}, rows)
	})
}

func cmdRolesShow(ctx context.Context, e env, args []string) error {
	return showOne(ctx, e, args, "roles show", "ROLE", func(svc *mgmt.Service, ref string) (any, error) {
		r, err := svc.FindRole(ctx, ref)
		if err != nil {
			return nil, err
		}
		ps, err := svc.RolePermissions(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		perms := []map[string]string{}
		for _, p := range ps {
			perms = append(perms, map[string]string{"api": p.Audience, "permission": p.Name, "description": p.Description})
		}
		users, _, err := svc.RoleUsers(ctx, r.ID, "", 0, 0)
		if err != nil {
			return nil, err
		}
		ids := []string{}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		return map[string]any{"id": r.ID, "name": r.Name, "description": r.Description, "permissions": perms,
			"users": ids, "created_at": r.CreatedAt, "updated_at": r.UpdatedAt}, nil
	})
}

func cmdRolesDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "roles delete", "ROLE", func(svc *mgmt.Service, ref string) error {
		r, err := svc.FindRole(ctx, ref)
		if err != nil {
			return err
		}
		return svc.DeleteRole(ctx, r.ID)
	})
}

// rolePermissionsCmd is "roles add-permissions" and "roles remove-permissions".
func rolePermissionsCmd(ctx context.Context, e env, args []string, verb string,
	change func(svc *mgmt.Service, roleID string, ps []store.Permission) error) error {
	name := "roles " + verb
	cmd := newStoreCmd(e, name, name+` ROLE --api API_IDENTIFIER --permissions "a b"`)
	api := cmd.fs.String("api", "", "the API's identifier (required)")
	perms := cmd.fs.String("permissions", "", "space-separated scopes of the API (required)")
	pos, err := cmd.parse(args, "ROLE (id or name)")
	if err != nil {
		return err
	}
	if *api == "" || strings.TrimSpace(*perms) == "" {
		return fmt.Errorf("%w: %s needs --api and --permissions", errUsage, name)
	}
	var ps []store.Permission
	for _, p := range strings.Fields(*perms) {
		ps = append(ps, store.Permission{Audience: *api, Name: p})
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		r, err := svc.FindRole(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := change(svc, r.ID, ps); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "updated %s\n", r.ID)
		return nil
	})
}

func cmdRolesAddPermissions(ctx context.Context, e env, args []string) error {
	return rolePermissionsCmd(ctx, e, args, "add-permissions", func(svc *mgmt.Service, roleID string, ps []store.Permission) error {
		return svc.AddRolePermissions(ctx, roleID, ps)
	})
}

func cmdRolesRemovePermissions(ctx context.Context, e env, args []string) error {
	return rolePermissionsCmd(ctx, e, args, "remove-permissions", func(svc *mgmt.Service, roleID string, ps []store.Permission) error {
		return svc.RemoveRolePermissions(ctx, roleID, ps)
	})
}

// roleAssignCmd is "roles assign" and "roles unassign".
func roleAssignCmd(ctx context.Context, e env, args []string, verb string,
	change func(svc *mgmt.Service, userID, org, roleID string) error) error {
	name := "roles " + verb
	cmd := newStoreCmd(e, name, name+" ROLE --user USER [--organization ORG]")
	user := cmd.fs.String("user", "", "the user's id or database email (required)")
	org := cmd.fs.String("organization", "", "only as a member of this organization (id or name)")
	pos, err := cmd.parse(args, "ROLE (id or name)")
	if err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: %s needs --user", errUsage, name)
	}
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		r, err := svc.FindRole(ctx, pos[0])
		if err != nil {
			return err
		}
		u, err := svc.FindUser(ctx, *user)
		if err != nil {
			return err
		}
		if err := change(svc, u.ID, *org, r.ID); err != nil {
			return err
		}
		where := "everywhere"
		if *org != "" {
			where = "in organization " + *org
		}
		fmt.Fprintf(e.stdout, "%s %s: %s %s\n", verb, r.Name, u.ID, where)
		return nil
	})
}

func cmdRolesAssign(ctx context.Context, e env, args []string) error {
	return roleAssignCmd(ctx, e, args, "assign", func(svc *mgmt.Service, userID, org, roleID string) error {
		return svc.AssignUserRoles(ctx, userID, org, []string{roleID})
	})
}

func cmdRolesUnassign(ctx context.Context, e env, args []string) error {
	return roleAssignCmd(ctx, e, args, "unassign", func(svc *mgmt.Service, userID, org, roleID string) error {
		return svc.UnassignUserRoles(ctx, userID, org, []string{roleID})
	})
}
