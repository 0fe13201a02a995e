// Command veil runs the Veil authorization server and its administrative
// tasks.
//
//	veil serve                 start the server
//	veil migrate up|down|status manage the database schema
//	veil keys list|rotate|rewrap manage Veil's keys
//	veil clients|resources|users|audit  call the admin API
//	veil janitor               delete expired items once
//	veil bench                 drive load against a running Veil
//
// Configuration comes from VEIL_* environment variables; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: veil <command> [flags]

commands:
  serve                  start the authorization server
  migrate up|down|status apply, undo one, or show database migrations
  migrate force VERSION  record VERSION as applied after a manual repair
  keys list|rotate|rewrap list Veil's keys, start a rotation now, or seal
                         every key under the first VEIL_MASTER_KEY
  janitor                delete expired tokens, codes, sessions and the like
                         now, as each replica does every VEIL_JANITOR_INTERVAL
  token inspect [--key FILE] [--jwks URL|FILE] TOKEN
                         show a token's headers, and with the resource's
                         key its claims and whether the signature verifies
  clients create|list|get|update|delete|rotate-secret
                         manage OAuth2 clients through the admin API
  resources create|list|get|update|delete|rotate-secret
                         manage resource servers through the admin API
  users create|list|get|update|delete|disable|enable|consents|revoke-consent
                         manage users and consents through the admin API
  audit [flags]          read the audit log through the admin API
                         ('veil users --help' and the like say more)
  bench [flags]          drive load against a running Veil and report
                         requests/s, latency and errors ('veil bench -h')

Configuration is read from VEIL_* environment variables (see README.md);
'veil serve -h' lists the flags that mirror them.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful shutdown; with the handler gone,
	// a second one stops the process at once.
	context.AfterFunc(ctx, stop)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "veil:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the status veil exits with when run returns err: 0 for
// success or help, 2 for a command line that cannot run, 1 for any other
// failure.
func exitCode(err error) int {
	var usage *usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	}
	return 1
}

// run executes one command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return migrate(ctx, args[1:], stdout, getenv)
	case "keys":
		return keysCommand(ctx, args[1:], stdout, stderr, getenv)
	case "janitor":
		return janitorCommand(ctx, args[1:], stdout, stderr, getenv)
	case "token":
		return tokenCommand(ctx, args[1:], stdout, stderr)
	case "clients", "resources", "users", "audit":
		return adminCommand(ctx, args, stdout, stderr, getenv)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
