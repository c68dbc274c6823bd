// Command gatehouse is the Gatehouse identity provider: the server, a demo,
// and the administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

const usage = `Gatehouse: an OpenID Connect identity provider.

Usage:
  gatehouse <command> [flags]

Commands:
  serve                  run the server
  demo                   run the server with a demo app and user, and the example web app
  migrate                apply database migrations and exit
  apps create|list|show|update|delete   manage applications
  apis create|list|show|update|delete   manage APIs (resource servers)
  users create|list|show|update|link|delete|set-password|reset-link|import|export  manage users
  connections create|list|show|update|delete|enable|disable   manage connections (GitHub, OpenID, OAuth 2.0)
  orgs create|list|show|update|delete|members|connections|invite|invitations   manage organizations
  keys rotate|list|revoke   manage signing keys
  client-grants create|list|update|delete   let machine-to-machine applications call APIs
  roles create|list|show|delete|add-permissions|remove-permissions|assign|unassign   manage roles (RBAC)
  logs list|tail         read the audit log; tail follows it
  admins add|list|remove   manage who may use the admin console (/admin)
  loadtest               drive an OpenID provider through the authorization code flow under load

Run "gatehouse <command> --help" for a command's flags.
`

// env is how a command sees the outside world; tests replace it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// errUsage marks errors in the command line itself (exit status 2).
var errUsage = errors.New("usage")

// run executes one command line and returns the exit status.
func run(ctx context.Context, e env, args []string) int {
	err := dispatch(ctx, e, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "gatehouse: %s\n", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "usage: "), "\n"))
		return 2
	default:
		fmt.Fprintf(e.stderr, "gatehouse: %s\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd, rest := args[0], args[1:]
	sub := func(name string, cmds map[string]func(context.Context, env, []string) error) error {
		if len(rest) == 0 || rest[0] == "-h" || rest[0] == "--help" || rest[0] == "help" {
			names := make([]string, 0, len(cmds))
			for k := range cmds {
				names = append(names, k)
			}
			fmt.Fprintf(e.stdout, "Usage: gatehouse %s <%s> [flags]\n", name, strings.Join(slices.Sorted(slices.Values(names)), "|"))
			if len(rest) == 0 {
				return fmt.Errorf("%w: gatehouse %s needs a subcommand", errUsage, name)
			}
			return flag.ErrHelp
		}
		f, ok := cmds[rest[0]]
		if !ok {
			return fmt.Errorf("%w: unknown command \"%s %s\"", errUsage, name, rest[0])
		}
		return f(ctx, e, rest[1:])
	}
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return flag.ErrHelp
	case "serve":
		return cmdServe(ctx, e, rest)
	case "demo":
		return cmdDemo(ctx, e, rest)
	case "migrate":
		return cmdMigrate(ctx, e, rest)
	case "loadtest":
		return cmdLoadtest(ctx, e, rest)
	case "apps":
		return sub("apps", map[string]func(context.Context, env, []string) error{
			"create": cmdAppsCreate, "list": cmdAppsList, "show": cmdAppsShow, "update": cmdAppsUpdate, "delete": cmdAppsDelete})
	case "users":
		return sub("users", map[string]func(context.Context, env, []string) error{
			"create": cmdUsersCreate, "list": cmdUsersList, "show": cmdUsersShow, "update": cmdUsersUpdate, "link": cmdUsersLink, "delete": cmdUsersDelete,
			"mfa": cmdUsersMFA, "set-password": cmdUsersSetPassword, "reset-link": cmdUsersResetLink, "import": cmdUsersImport, "export": cmdUsersExport})
	case "apis":
		return sub("apis", map[string]func(context.Context, env, []string) error{
			"create": cmdAPIsCreate, "list": cmdAPIsList, "show": cmdAPIsShow, "update": cmdAPIsUpdate, "delete": cmdAPIsDelete})
	case "client-grants":
		return sub("client-grants", map[string]func(context.Context, env, []string) error{
			"create": cmdClientGrantsCreate, "list": cmdClientGrantsList, "update": cmdClientGrantsUpdate, "delete": cmdClientGrantsDelete})
	case "roles":
		return sub("roles", map[string]func(context.Context, env, []string) error{
			"create": cmdRolesCreate, "list": cmdRolesList, "show": cmdRolesShow, "delete": cmdRolesDelete,
			"add-permissions": cmdRolesAddPermissions, "remove-permissions": cmdRolesRemovePermissions,
			"assign": cmdRolesAssign, "unassign": cmdRolesUnassign})
	case "connections":
		return sub("connections", map[string]func(context.Context, env, []string) error{
			"create": cmdConnectionsCreate, "list": cmdConnectionsList, "show": cmdConnectionsShow, "update": cmdConnectionsUpdate,
			"delete": cmdConnectionsDelete, "enable": cmdConnectionsEnable, "disable": cmdConnectionsDisable})
	case "orgs":
		return sub("orgs", map[string]func(context.Context, env, []string) error{
			"create": cmdOrgsCreate, "list": cmdOrgsList, "show": cmdOrgsShow, "update": cmdOrgsUpdate, "delete": cmdOrgsDelete,
			"members": cmdOrgsMembers, "connections": cmdOrgsConnections, "invite": cmdOrgsInvite, "invitations": cmdOrgsInvitations})
	case "keys":
		return sub("keys", map[string]func(context.Context, env, []string) error{
			"rotate": cmdKeysRotate, "list": cmdKeysList, "revoke": cmdKeysRevoke})
	case "admins":
		return sub("admins", map[string]func(context.Context, env, []string) error{"add": cmdAdminsAdd, "list": cmdAdminsList, "remove": cmdAdminsRemove})
	case "logs":
		return sub("logs", map[string]func(context.Context, env, []string) error{"list": cmdLogsList, "tail": cmdLogsTail})
	}
	fmt.Fprint(e.stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// newFlagSet returns a flag set whose errors the caller reports in one line.
func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: gatehouse %s\n\nFlags:\n", synopsis)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses flags that may stand before, between or after the
// positional arguments, which it returns.
//
// The flag package itself calls Usage on -h and on every parse error; that
// printed the usage twice on --help and a whole usage page above an unknown
// flag's error. It is silenced while parsing: --help prints the usage once,
// here, and an error is one line, written by run.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %v (see gatehouse %s --help; an argument that starts with '-' goes after --)", errUsage, fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			// After --, everything is an argument (a key ID may start with '-').
			return append(positional, rest...), nil
		}
		args = rest
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// pickVerb reads the verb of a command that has verbs of its own ("orgs
// members add"): one of verbs, or --help, which prints usage.
func pickVerb(e env, args []string, usage, need string, verbs ...string) (string, error) {
	if len(args) > 0 {
		switch {
		case slices.Contains(verbs, args[0]):
			return args[0], nil
		case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
			fmt.Fprintln(e.stdout, usage)
			return "", flag.ErrHelp
		}
	}
	fmt.Fprintln(e.stdout, usage)
	return "", fmt.Errorf("%w: %s", errUsage, need)
}

// noArgs parses flags and refuses positional arguments.
func noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, fs.Name(), pos[0])
	}
	return nil
}
