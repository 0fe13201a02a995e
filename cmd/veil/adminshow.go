package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// field is one line of an object shown as text: its API member name and
// its value.
type field struct{ name, value string }

// showOne prints an object the API answered with: its JSON with --json,
// else the fields fields picks out of it.
func showOne[T any](s *session, body []byte, fields func(T) []field) error {
	if s.json {
		return s.printJSON(body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return errAnswer
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 1, ' ', 0)
	for _, f := range fields(v) {
		fmt.Fprintf(tw, "%s:\t%s\n", f.name, printable(f.value))
	}
	return tw.Flush()
}

// showList prints a listing: its JSON, in the API's shape, with --json,
// else a table of one row for each item.
func showList[T any](s *session, l listing, header []string, row func(T) []string) error {
	if s.json {
		body, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encode the listing: %w", err)
		}
		return s.printJSON(body)
	}

	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, raw := range l.Items {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return errAnswer
		}
		cells := row(v)
		for i, c := range cells {
			cells[i] = printable(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.NextPageToken != "" {
		fmt.Fprintf(s.errOut, "veil: more follow; for the next ones add --page-token %s\n",
			l.NextPageToken)
	}
	return nil
}

// printJSON writes an answer of the API, indented.
func (s *session) printJSON(body []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		return errAnswer
	}
	b.WriteByte('\n')
	_, err := s.out.Write(b.Bytes())
	return err
}

// noteSecret says, on stderr, that the secret just written to stdout
// cannot be read again. The secret itself goes to stdout only.
func (s *session) noteSecret(member string) {
	fmt.Fprintf(s.errOut, "veil: %s is shown this once: Veil keeps only its hash. "+
		"Store it now.\n", member)
}

// printable makes text from the API safe to print on a terminal: a
// control or format character, which could move the cursor or hide text,
// is shown as its code point. An empty value is shown as "-".
func printable(s string) string {
	if s == "" {
		return "-"
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// when formats a time of the API for people.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func list(values []string) string { return strings.Join(values, ", ") }

// objectPath returns the API path of the object with the given ID, and
// what follows it. An argument that cannot be an ID Veil issued (1 to 128
// URL-safe characters) is refused here, so that it never changes the
// path: "..", for one, would name the collection.
func objectPath(prefix, id string, rest ...string) (string, error) {
	ok := id != "" && id != "." && id != ".." && len(id) <= 128
	for _, c := range id {
		ok = ok && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.ContainsRune("-_.~", c))
	}
	if !ok {
		return "", usagef("%s is not an ID Veil issues", printable(id))
	}
	return prefix + id + strings.Join(rest, ""), nil
}

// listCmd makes a command that lists a collection.
func listCmd[T any](path string, header []string, row func(T) []string) func(*flag.FlagSet) action {
	return func(fs *flag.FlagSet) action {
		p := newPageFlags(fs)
		return func(ctx context.Context, s *session, _ []string) error {
			l, err := s.api.list(ctx, path, nil, p)
			if err != nil {
				return err
			}
			return showList(s, l, header, row)
		}
	}
}

// objectCmd makes a command that sends method to the object named by its
// arguments (prefix, ID, suffix) and shows the answer. If the answer
// holds a secret, the note that it will not be shown again goes to
// stderr.
func objectCmd[T any](
	method, prefix, suffix string, fields func(T) []field,
) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action {
		return func(ctx context.Context, s *session, args []string) error {
			path, err := objectPath(prefix, args[0], suffix)
			if err != nil {
				return err
			}
			body, err := s.api.call(ctx, method, path, nil, nil)
			if err != nil {
				return err
			}
			return showWithSecret(s, body, fields)
		}
	}
}

// deleteCmd makes a command that deletes the object named by its
// arguments: the ID after prefix, then for each further argument, middle
// and that ID.
func deleteCmd(what, prefix, middle string) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action {
		return func(ctx context.Context, s *session, args []string) error {
			path, err := objectPath(prefix, args[0])
			if err != nil {
				return err
			}
			for _, id := range args[1:] {
				if path, err = objectPath(path+middle, id); err != nil {
					return err
				}
			}
			if _, err := s.api.call(ctx, http.MethodDelete, path, nil, nil); err != nil {
				return err
			}
			if !s.json {
				fmt.Fprintf(s.out, "%s %s deleted\n", what, args[len(args)-1])
			}
			return nil
		}
	}
}

// showWithSecret is showOne for an answer that may hold a client_secret
// just made: it then says on stderr that the secret will not be shown
// again.
func showWithSecret[T any](s *session, body []byte, fields func(T) []field) error {
	if err := showOne(s, body, fields); err != nil {
		return err
	}
	var v struct {
		Secret string `json:"client_secret"`
	}
	if json.Unmarshal(body, &v) == nil && v.Secret != "" {
		s.noteSecret("client_secret")
	}
	return nil
}
