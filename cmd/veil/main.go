// Command veil runs the Veil authorization server and its administrative
// tasks.
//
//	veil serve                 start the server
//	veil migrate up|down|status manage the database schema
//	veil keys list|rotate|rewrap manage Veil's keys
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
  token inspect [--key FILE] [--jwks URL|FILE] TOKEN
                         show a token's headers, and with the resource's
                         key its claims and whether the signature verifies
  bench [flags]          drive load against a running Veil and report
                         requests/s, latency and errors ('veil bench -h')

Configuration is read from VEIL_* environment variables (see README.md);
'veil serve -h' lists the flags that mirror them.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "veil:", err)
		os.Exit(1)
	}
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
	case "token":
		return tokenCommand(ctx, args[1:], stdout, stderr)
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
