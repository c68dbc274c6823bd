package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// CLIClientID is the client_id of the management changes made with the
// command line, in the audit log.
const CLIClientID = "cli"

// readOnlyVerbs end the names of the commands that change nothing; every
// other command that opens the store is recorded in the audit log.
var readOnlyVerbs = map[string]bool{"list": true, "show": true, "tail": true, "migrate": true}

// audited runs f and then records the command in the audit log: sapi when
// it succeeded, fapi with the error when it failed, as the management API
// records its requests. The event names the command and its positional
// arguments (IDs and names, never a secret: passwords come on standard
// input) and the operating-system user who ran it.
func (cmd *storeCmd) audited(ctx context.Context, f func(store.Store) error) func(store.Store) error {
	return func(st store.Store) error {
		err := f(st)
		name := cmd.fs.Name()
		if readOnlyVerbs[name[strings.LastIndex(name, " ")+1:]] {
			return err
		}
		e := audit.Event{Type: audit.TypeSuccessAPIOperation, Description: "gatehouse " + name,
			ClientID: CLIClientID, ClientName: "gatehouse command line",
			Details: map[string]any{"command": name, "args": cmd.pos}}
		if u, ok := cmd.e.lookupEnv("USER"); ok && u != "" {
			e.Details["os_user"] = u
		}
		if err != nil {
			e.Type = audit.TypeFailedAPIOperation
			e.Details["error"] = err.Error()
		}
		// The command's own context may be cancelled (Ctrl-C): the record
		// of what it did is written all the same, briefly.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if aerr := audit.Append(actx, st, e); aerr != nil {
			fmt.Fprintf(cmd.e.stderr, "gatehouse: warning: the audit log did not record this command: %v\n", aerr)
		}
		return err
	}
}
