package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// openJobs returns the bulk user jobs over the store, for the server's
// database users.
func openJobs(cfg config.Config, st store.Store) (*mgmt.Jobs, error) {
	return mgmt.NewJobs(mgmt.JobsConfig{Store: st, Provider: cfg.UserIDProvider})
}

// cmdUsersImport imports a users file in Auth0's bulk import format into a
// database connection, then prints the summary, and each failed row on
// standard error.
func cmdUsersImport(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users import", "users import FILE|- [--connection NAME] [--upsert] [--external-id ID]")
	conn := cmd.fs.String("connection", store.DefaultDatabaseConnection, "the database `connection` to import into")
	upsert := cmd.fs.Bool("upsert", false, "update users whose email the connection has already (by default such rows fail)")
	externalID := cmd.fs.String("external-id", "", "a reference of yours, kept with the job")
	pos, err := cmd.parse(args, "FILE")
	if err != nil {
		return err
	}
	in := e.stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("users import: %w", err)
		}
		defer f.Close()
		in = f
	}
	return cmd.open(ctx, func(cfg config.Config, st store.Store) error {
		jobs, err := openJobs(cfg, st)
		if err != nil {
			return err
		}
		job, err := jobs.RunImport(ctx, mgmt.ImportRequest{Connection: *conn, Users: in, Upsert: *upsert, ExternalID: *externalID})
		if err != nil {
			return flagError(fieldAsFlag(err, "connection_id", "connection"))
		}
		if err := jobs.EachJobError(ctx, job.ID, func(je store.JobError) error {
			for _, re := range je.Errors {
				fmt.Fprintf(e.stderr, "row %d: %s: %s%s\n", je.Row+1, re.Code, re.Message, pathSuffix(re.Path))
			}
			return nil
		}); err != nil {
			return err
		}
		s := job.Summary
		fmt.Fprintf(e.stdout, "job %s %s: %d rows, %d inserted, %d updated, %d failed\n", job.ID, job.Status, s.Total, s.Inserted, s.Updated, s.Failed)
		switch {
		case job.Status == store.JobFailed:
			return fmt.Errorf("users import: %s; the rows before were written: run the import again with --upsert to finish it", job.Details)
		case s.Failed > 0:
			return fmt.Errorf("users import: %d of %d rows failed (listed above); the others were written", s.Failed, s.Total)
		}
		return nil
	})
}

// pathSuffix shows a row error's path, when it says more than "the row".
func pathSuffix(path string) string {
	if path == "" || path == "#/" {
		return ""
	}
	return " (at " + path + ")"
}

// fieldAsFlag renames the API's name of an input to the flag's in a
// management error.
func fieldAsFlag(err error, field, flagName string) error {
	if me, ok := err.(*mgmt.Error); ok && me.Field == field {
		c := *me
		c.Field = flagName
		c.Message = strings.Replace(c.Message, field, flagName, 1)
		return &c
	}
	return err
}

// cmdUsersExport writes users as JSON lines, one user a line, to standard
// output.
func cmdUsersExport(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "users export", "users export [--connection NAME] [--fields F1,F2:EXPORT_AS,…] [--limit N] > users.jsonl")
	conn := cmd.fs.String("connection", "", "export only the users of this `connection` (default: every user)")
	fields := cmd.fs.String("fields", "", "comma-separated profile `fields` to export, each a path (email, user_metadata.plan, identities[0].connection), "+
		"optionally followed by :NAME to name it in the output (default: the whole profile)")
	limit := cmd.fs.Int("limit", 0, "export at most `N` users (default: all)")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	var req mgmt.ExportRequest
	req.Connection, req.Limit = *conn, *limit
	if *fields != "" {
		for _, f := range strings.Split(*fields, ",") {
			name, as, _ := strings.Cut(strings.TrimSpace(f), ":")
			req.Fields = append(req.Fields, store.JobField{Name: name, ExportAs: as})
		}
	}
	return cmd.open(ctx, func(cfg config.Config, st store.Store) error {
		jobs, err := openJobs(cfg, st)
		if err != nil {
			return err
		}
		n, err := jobs.ExportUsers(ctx, req, e.stdout)
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(e.stderr, "exported %d users\n", n)
		return nil
	})
}
