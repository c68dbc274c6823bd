package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/store"
)

const usersMFAUsage = `Usage: gatehouse users mfa <list|reset> USER [flags]

  list USER                      list the user's authentication factors
  reset USER [--factor ID]       remove every factor of the user, or one

USER is a user id ("gatehouse|…") or the email address of a database user.
Run "gatehouse users mfa list --help" for the flags.
`

// cmdUsersMFA is "users mfa list|reset": how an operator sees a user's
// second factors and removes a lost one.
func cmdUsersMFA(ctx context.Context, e env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return cmdUsersMFAList(ctx, e, args[1:])
		case "reset":
			return cmdUsersMFAReset(ctx, e, args[1:])
		case "-h", "--help", "help":
			fmt.Fprint(e.stdout, usersMFAUsage)
			return flag.ErrHelp
		}
	}
	fmt.Fprint(e.stdout, usersMFAUsage)
	return fmt.Errorf("%w: users mfa needs list or reset", errUsage)
}

func cmdUsersMFAList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users mfa list", "users mfa list USER [--db DB]")
	return cmd.run(ctx, args, "USER", func(_ config.Config, st store.Store, pos []string) error {
		u, err := findUser(ctx, st, pos[0])
		if err != nil {
			return err
		}
		factors, err := st.ListFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		if len(factors) == 0 {
			fmt.Fprintf(e.stdout, "%s has no authentication factors\n", u.ID)
			return nil
		}
		var rows [][]string
		for _, f := range factors {
			rows = append(rows, []string{f.ID, f.Type, orDash(f.Name), factorStatus(f),
				f.CreatedAt.Format(time.RFC3339), lastUsed(f.LastUsedAt)})
		}
		return printTable(e.stdout, []string{"ID", "TYPE", "NAME", "STATUS", "CREATED", "LAST_USED"}, rows)
	})
}

// factorStatus says whether a factor can pass a login.
func factorStatus(f store.Factor) string {
	switch {
	case f.Type == store.FactorRecoveryCode:
		return strconv.Itoa(f.RecoveryCodesLeft) + " left"
	case !f.Confirmed:
		return "unconfirmed"
	}
	return "active"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func lastUsed(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func cmdUsersMFAReset(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users mfa reset", "users mfa reset USER [--factor ID] [--db DB]")
	factor := cmd.fs.String("factor", "", "remove only the factor with this `ID` (see users mfa list)")
	return cmd.run(ctx, args, "USER", func(_ config.Config, st store.Store, pos []string) error {
		u, err := findUser(ctx, st, pos[0])
		if err != nil {
			return err
		}
		if *factor != "" {
			if err := st.DeleteFactor(ctx, u.ID, *factor); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("users mfa reset: %s has no factor %q", u.ID, *factor)
				}
				return err
			}
			fmt.Fprintf(e.stdout, "removed factor %s of %s\n", *factor, u.ID)
			return nil
		}
		n, err := st.DeleteFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed %d factors of %s\n", n, u.ID)
		return nil
	})
}
