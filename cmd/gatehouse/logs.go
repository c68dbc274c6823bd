package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/config"
	"gatehouse/internal/store"
)

// logFilterFlags are the filters "logs list" and "logs tail" share.
type logFilterFlags struct {
	types  multiFlag
	user   string
	client string
	n      int
	json   bool
}

func (f *logFilterFlags) register(cmd *storeCmd, n int) {
	cmd.fs.Var(&f.types, "type", "only events of this `type` (s, fp, sapi, …); repeat or separate with commas for several")
	cmd.fs.StringVar(&f.user, "user", "", "only the events of this user `ID`")
	cmd.fs.StringVar(&f.client, "client", "", "only the events of this application's client `ID` (cli for the command line)")
	cmd.fs.IntVar(&f.n, "n", n, "how many of the most recent events to print (list: 0 for all)")
	cmd.fs.BoolVar(&f.json, "json", false, "print each event as one line of JSON, in the management API's shape")
}

// filter is the store filter of the flags: the n most recent events.
func (f *logFilterFlags) filter() (store.LogFilter, error) {
	if f.n < 0 {
		return store.LogFilter{}, fmt.Errorf("%w: -n must not be negative", errUsage)
	}
	var types []string
	for _, t := range f.types {
		for p := range strings.SplitSeq(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				types = append(types, p)
			}
		}
	}
	return store.LogFilter{Types: types, UserID: f.user, ClientID: f.client, Limit: f.n}, nil
}

// matches reports whether a followed event passes the flags' filter.
func (f *logFilterFlags) matches(lf store.LogFilter, e store.LogEvent) bool {
	return (len(lf.Types) == 0 || slices.Contains(lf.Types, e.Type)) &&
		(lf.UserID == "" || lf.UserID == e.UserID) && (lf.ClientID == "" || lf.ClientID == e.ClientID)
}

// printEvent writes one event on one line.
func (f *logFilterFlags) printEvent(w io.Writer, e store.LogEvent) error {
	if f.json {
		b, err := json.Marshal(audit.FromStore(e))
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(w, logLine(e))
	return err
}

// logLine is an event as one line of text: date, type, what happened,
// then who, from where.
func logLine(e store.LogEvent) string {
	var b strings.Builder
	b.WriteString(e.Date.UTC().Format(audit.DateFormat))
	fmt.Fprintf(&b, "  %-8s %s", e.Type, audit.TypeName(e.Type))
	if e.Description != "" && e.Description != audit.TypeName(e.Type) {
		fmt.Fprintf(&b, ": %s", e.Description)
	}
	field := func(k, id, name string) {
		switch {
		case id != "" && name != "" && name != id:
			fmt.Fprintf(&b, "  %s=%s (%s)", k, id, name)
		case id != "":
			fmt.Fprintf(&b, "  %s=%s", k, id)
		case name != "":
			fmt.Fprintf(&b, "  %s=(%s)", k, name)
		}
	}
	field("user", e.UserID, e.UserName)
	field("client", e.ClientID, e.ClientName)
	field("connection", e.Connection, "")
	field("org", e.OrganizationID, e.OrganizationName)
	field("ip", e.IP, "")
	return b.String()
}

// cmdLogsList is "logs list": the most recent events, newest first.
func cmdLogsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "logs list", "logs list [--type T] [--user ID] [--client ID] [-n 50] [--json]")
	var f logFilterFlags
	f.register(cmd, 50)
	return cmd.run(ctx, args, "", func(_ config.Config, st store.Store, _ []string) error {
		lf, err := f.filter()
		if err != nil {
			return err
		}
		events, err := st.ListLogs(ctx, lf)
		if err != nil {
			return err
		}
		for _, ev := range events {
			if err := f.printEvent(e.stdout, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// cmdLogsTail is "logs tail": the last events, oldest first, then every
// new one as it is stored, until interrupted. It follows the store's
// commit order, so it misses no event that a replica stores late.
func cmdLogsTail(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "logs tail", "logs tail [--type T] [--user ID] [--client ID] [-n 10] [--json] [--interval 1s]")
	var f logFilterFlags
	f.register(cmd, 10)
	interval := durationFlag(time.Second)
	cmd.fs.Var(&interval, "interval", "how often to look for new events")
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	lf, err := f.filter()
	if err != nil {
		return err
	}
	if interval <= 0 {
		return fmt.Errorf("%w: --interval must be positive", errUsage)
	}
	return cmd.open(ctx, func(_ config.Config, st store.Store) error {
		// Where the log ends now: the newest event's checkpoint.
		var cursor int64
		newest, err := st.ListLogs(ctx, store.LogFilter{Limit: 1})
		if err != nil {
			return err
		}
		if len(newest) > 0 {
			if cursor, err = st.LogCheckpoint(ctx, newest[0].ID); err != nil {
				return err
			}
		}
		printed := map[string]bool{}
		if lf.Limit > 0 {
			last, err := st.ListLogs(ctx, lf)
			if err != nil {
				return err
			}
			slices.Reverse(last)
			for _, ev := range last {
				printed[ev.ID] = true
				if err := f.printEvent(e.stdout, ev); err != nil {
					return err
				}
			}
		}
		for {
			events, err := st.ReadLogs(ctx, cursor, 500)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			for _, ev := range events {
				cursor = ev.Seq
				// The last events printed above may come again here
				// when they were committed after the newest one.
				if printed[ev.ID] || !f.matches(lf, ev) {
					continue
				}
				if err := f.printEvent(e.stdout, ev); err != nil {
					return err
				}
			}
			if len(events) == 500 {
				continue
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Duration(interval)):
			}
		}
	})
}
