package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// usageError is a command line that cannot run as given. main exits 2 on
// it, and 1 on every other failure.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// group is a top-level command of the admin CLI, such as `veil clients`,
// with the commands under it. A group with one unnamed command (audit)
// runs it directly.
type group struct {
	name     string
	summary  string
	commands []*command
}

// command is one admin CLI command, such as `veil clients create`.
type command struct {
	name    string
	args    []string // names of the positional arguments, all required
	summary string
	// setup defines the command's own flags and returns what runs it.
	setup func(fs *flag.FlagSet) action
}

// action runs an admin command on its positional arguments.
type action = func(ctx context.Context, s *session, args []string) error

// adminGroups returns every group of the admin CLI.
func adminGroups() []*group {
	return []*group{clientsGroup(), resourcesGroup(), usersGroup(), auditGroup()}
}

// adminCommand runs `veil clients|resources|users|audit ...` against the
// admin API.
func adminCommand(
	ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string,
) error {
	groups := adminGroups()
	g := groups[slices.IndexFunc(groups, func(g *group) bool { return g.name == args[0] })]
	if len(g.commands) == 1 && g.commands[0].name == "" {
		return g.commands[0].run(ctx, g, args[1:], stdout, stderr, getenv)
	}

	if len(args) < 2 {
		fmt.Fprint(stderr, g.usage())
		return usagef("give a %s command", g.name)
	}
	if isHelp(args[1]) {
		fmt.Fprint(stdout, g.usage())
		return flag.ErrHelp
	}
	for _, c := range g.commands {
		if c.name == args[1] {
			return c.run(ctx, g, args[2:], stdout, stderr, getenv)
		}
	}
	fmt.Fprint(stderr, g.usage())
	return usagef("unknown %s command %q", g.name, args[1])
}

func isHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

// usage lists the group's commands.
func (g *group) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: veil %s <command> [flags]\n\n%s\n\ncommands:\n", g.name, g.summary)
	for _, c := range g.commands {
		line := strings.TrimSpace(c.name + " " + strings.Join(c.args, " "))
		fmt.Fprintf(&b, "  %-34s %s\n", line, c.summary)
	}
	fmt.Fprintf(&b, "\n'veil %s <command> --help' shows a command's flags.\n", g.name)
	return b.String()
}

// run parses the command line of c and runs it.
func (c *command) run(ctx context.Context, g *group, args []string,
	stdout, stderr io.Writer, getenv func(string) string,
) error {
	name := strings.TrimSpace("veil " + g.name + " " + c.name)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Parse's own messages go nowhere: parseArgs words them without the
	// values given, and the usage is printed here.
	fs.SetOutput(io.Discard)
	act := c.setup(fs)
	common := newConnFlags(fs, getenv)

	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, c.usage(name, fs))
		return err
	}
	if err == nil && len(pos) != len(c.args) {
		short := strings.TrimPrefix(name, "veil ")
		err = usagef("%s takes no arguments", short)
		if len(c.args) > 0 {
			err = usagef("%s takes the arguments %s", short, strings.Join(c.args, " "))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "usage: %s\n'%s --help' lists the flags.\n", c.line(name), name)
		return err
	}

	s, err := common.session(stdout, stderr, getenv)
	if err != nil {
		return err
	}
	defer s.api.close()
	if err := act(ctx, s, pos); err != nil {
		return fmt.Errorf("%s: %w", strings.TrimPrefix(name, "veil "), err)
	}
	return nil
}

// usage shows how to call c, its own flags, then those of every command.
func (c *command) usage(name string, fs *flag.FlagSet) string {
	var own, common strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		b := &own
		if slices.Contains(connFlagNames, f.Name) {
			b = &common
		}
		kind, text := flag.UnquoteUsage(f)
		fmt.Fprintf(b, "  --%s\n", strings.TrimSpace(f.Name+" "+kind))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			text += " (default " + f.DefValue + ")"
		}
		wrap(b, text, "        ")
	})

	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n", c.line(name))
	wrap(&b, strings.ToUpper(c.summary[:1])+c.summary[1:]+".", "")
	if len(c.args) > 0 {
		b.WriteString("An ID that starts with '-' goes after '--'.\n")
	}
	if own.Len() > 0 {
		fmt.Fprintf(&b, "\nflags:\n%s", own.String())
	}
	fmt.Fprintf(&b, "\nflags of every admin command:\n%s", common.String())
	return b.String()
}

// line is the synopsis of c.
func (c *command) line(name string) string {
	return strings.TrimSpace(name + " [flags] " + strings.Join(c.args, " "))
}

// wrap writes text to b in lines of at most 80 columns, each starting with
// indent.
func wrap(b *strings.Builder, text, indent string) {
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > 80 {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
}

// parseArgs parses flags placed before, between or after the positional
// arguments; everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// flagError words an error of fs.Parse without the value given, which the
// flag package quotes: a password or token typed in the wrong place is not
// printed back.
func flagError(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case strings.HasPrefix(msg, "invalid "):
		// "invalid [boolean] value "VALUE" for [flag] -NAME: REASON"
		_, rest, _ := strings.Cut(msg, "value ")
		quoted, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return usagef("invalid flag value")
		}
		return usagef("invalid value%s", rest[len(quoted):])
	case strings.HasPrefix(msg, "bad flag syntax"):
		return usagef("bad flag syntax")
	case strings.HasPrefix(msg, "flag provided but not defined"):
		return usagef("%s (an ID that starts with '-' goes after '--')", msg)
	}
	return usagef("%s", msg)
}

// listFlag is a flag that may be repeated, each value adding to the list.
// Giving it once with an empty value makes the list empty, which clears
// the field on update.
type listFlag struct {
	values []string
	// fields splits each value on spaces, as a scope string is written.
	fields bool
}

func (l *listFlag) String() string { return "" }

func (l *listFlag) Set(v string) error {
	if l.values == nil {
		l.values = []string{}
	}
	if l.fields {
		l.values = append(l.values, strings.Fields(v)...)
	} else if v != "" {
		l.values = append(l.values, v)
	}
	return nil
}

// visited returns the names of the flags set on the command line.
func visited(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
