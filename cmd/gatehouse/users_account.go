package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
)

// cmdUsersSetPassword sets a database user's password, read from standard
// input, and signs the user out everywhere: whoever knew the old password
// keeps no session or refresh token.
func cmdUsersSetPassword(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users set-password", "users set-password USER_ID --password-stdin [--keep-sessions]")
	passwordStdin := cmd.fs.Bool("password-stdin", false, "read the new password from standard input (required)")
	keep := cmd.fs.Bool("keep-sessions", false, "keep the user's sessions and refresh tokens (by default they are ended)")
	pos, err := cmd.parse(args, "USER_ID")
	if err != nil {
		return err
	}
	if !*passwordStdin {
		return fmt.Errorf("%w: users set-password: --password-stdin is required (passwords are never taken as arguments)", errUsage)
	}
	password, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	userID := pos[0]
	return cmd.open(ctx, func(cfg config.Config, st store.Store) error {
		db, err := database.Open(server.DatabaseConfig(cfg, st))
		if err != nil {
			return err
		}
		if err := db.SetPassword(ctx, userID, password); err != nil {
			return accountError(userID, err)
		}
		if *keep {
			fmt.Fprintf(e.stdout, "password set for %s; sessions and refresh tokens kept\n", userID)
			return nil
		}
		sessions, families, err := database.RevokeUserSessions(ctx, st, userID, "")
		if err != nil {
			return fmt.Errorf("password set for %s, but signing the user out failed (run the command again): %w", userID, err)
		}
		fmt.Fprintf(e.stdout, "password set for %s; ended %d sessions and %d refresh-token grants\n", userID, sessions, families)
		return nil
	})
}

// cmdUsersResetLink prints a one-time password-reset link for an operator to
// hand to the user, on the hosted page of the configured issuer.
func cmdUsersResetLink(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users reset-link", "users reset-link USER_ID [--ttl 30m] [--issuer URL]")
	ttl := durationFlag(database.DefaultResetTTL)
	cmd.fs.Var(&ttl, "ttl", "`lifetime` of the link, at most 30d")
	issuer := cmd.fs.String("issuer", "", "public `URL` of the server the link opens (default: the configured issuer; env GATEHOUSE_ISSUER)")
	pos, err := cmd.parse(args, "USER_ID")
	if err != nil {
		return err
	}
	if ttl <= 0 || time.Duration(ttl) > 30*24*time.Hour {
		return fmt.Errorf("%w: users reset-link: --ttl must be between 1s and 30d", errUsage)
	}
	cfg, err := cmd.common.load(e, cmd.fs, func(cfg *config.Config) {
		cmd.fs.Visit(func(f *flag.Flag) {
			if f.Name == "issuer" {
				cfg.Issuer = *issuer
			}
		})
	})
	if err != nil {
		return err
	}
	userID := pos[0]
	return withStore(ctx, cfg, cmd.audited(ctx, func(st store.Store) error {
		u, err := st.GetUser(ctx, userID)
		if err != nil {
			return accountError(userID, err)
		}
		db, err := database.Open(server.DatabaseConfig(cfg, st))
		if err != nil {
			return err
		}
		if !db.IsPasswordUser(u) {
			return accountError(userID, fmt.Errorf("user %s is of connection %q: %w", u.ID, u.Connection, database.ErrNotPasswordUser))
		}
		// Read before the ticket is stored, so the expiry printed is never
		// later than the one stored.
		expires := time.Now().Add(time.Duration(ttl)).UTC()
		tok, err := database.IssueTicket(ctx, st, store.TicketPasswordReset, u, time.Duration(ttl), "", "")
		if err != nil {
			return err
		}
		link, err := database.TicketURL(cfg.Issuer, store.TicketPasswordReset, tok)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "url: %s\nexpires: %s\n", link, expires.Format(time.RFC3339))
		fmt.Fprintln(e.stderr, "Anyone with this link can set the password: hand it to the user only. It works once and replaces earlier reset links.")
		return nil
	}))
}

// accountError turns the errors of account changes into one-line messages
// for the operator.
func accountError(userID string, err error) error {
	var policy *database.PolicyError
	switch {
	case errors.As(err, &policy):
		return policy
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("user %q not found", userID)
	case errors.Is(err, database.ErrNotPasswordUser):
		return fmt.Errorf("user %q signs in through another connection and has no password here", userID)
	}
	return err
}
