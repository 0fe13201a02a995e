package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// maxPasswordRead bounds what is read as a password: far more than Veil
// accepts, so that the API, not the CLI, says it is too long.
const maxPasswordRead = 64 << 10

// userView is a user as the admin API shows it. It has no password: the
// API never returns one.
type userView struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (u userView) fields() []field {
	return []field{
		{"id", u.ID},
		{"username", u.Username},
		{"email", u.Email},
		{"disabled", fmt.Sprint(u.Disabled)},
		{"created_at", when(u.CreatedAt)},
		{"updated_at", when(u.UpdatedAt)},
	}
}

var userHeader = []string{"ID", "USERNAME", "EMAIL", "STATE", "CREATED"}

func (u userView) row() []string {
	state := "enabled"
	if u.Disabled {
		state = "disabled"
	}
	return []string{u.ID, u.Username, u.Email, state, when(u.CreatedAt)}
}

// request is the body of a PUT that keeps every member, and the password,
// as they are.
func (u userView) request() map[string]any {
	return map[string]any{"username": u.Username, "email": u.Email, "disabled": u.Disabled}
}

// consentView is a consent as the admin API shows it.
type consentView struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Resource   string    `json:"resource"`
	Scopes     []string  `json:"scopes"`
	Remember   bool      `json:"remember"`
	CreatedAt  time.Time `json:"created_at"`
}

var consentHeader = []string{
	"ID", "CLIENT_ID", "CLIENT_NAME", "RESOURCE", "SCOPES", "REMEMBER", "CREATED",
}

func (c consentView) row() []string {
	return []string{c.ID, c.ClientID, c.ClientName, c.Resource, strings.Join(c.Scopes, " "),
		fmt.Sprint(c.Remember), when(c.CreatedAt)}
}

func usersGroup() *group {
	const path = "/admin/users"
	return &group{
		name:    "users",
		summary: "Manage the users who sign in to Veil, and their consents, through its admin API.",
		commands: []*command{
			{name: "create", setup: userCreate,
				summary: "create a user; the password is read from a prompt, stdin or a file"},
			{name: "list", setup: listCmd(path, userHeader, userView.row),
				summary: "list the users"},
			{name: "get", args: []string{"USER_ID"}, summary: "show a user",
				setup: objectCmd(http.MethodGet, path+"/", "", userView.fields)},
			{name: "update", args: []string{"USER_ID"}, setup: userUpdate,
				summary: "change the username, email or password given, keeping the rest"},
			{name: "delete", args: []string{"USER_ID"}, setup: deleteCmd("user", path+"/", ""),
				summary: "delete a user, with their sessions, consents and tokens"},
			{name: "disable", args: []string{"USER_ID"},
				setup:   objectCmd(http.MethodPost, path+"/", "/disable", userView.fields),
				summary: "stop a user signing in; ends their sessions and revokes their tokens"},
			{name: "enable", args: []string{"USER_ID"},
				setup:   objectCmd(http.MethodPost, path+"/", "/enable", userView.fields),
				summary: "let a disabled user sign in again"},
			{name: "consents", args: []string{"USER_ID"}, setup: consentList,
				summary: "list what a user has granted to clients"},
			{name: "revoke-consent", args: []string{"USER_ID", "CONSENT_ID"},
				setup:   deleteCmd("consent", path+"/", "/consents/"),
				summary: "revoke a consent and the tokens issued under it"},
		},
	}
}

// userMembers maps the flags of a user to its members in the API.
var userMembers = map[string]string{
	"username":        "username",
	"email":           "email",
	"password-stdin":  "password",
	"password-file":   "password",
	"password-prompt": "password",
}

// userFlags are the fields of a user, as flags. The password is never a
// flag's value: the command line is seen by other users (ps) and kept by
// the shell (history).
type userFlags struct {
	username, email, passwordFile string
	passwordStdin, passwordPrompt bool
}

func newUserFlags(fs *flag.FlagSet) *userFlags {
	f := &userFlags{}
	fs.StringVar(&f.username, "username", "", "the `NAME` the user signs in with")
	fs.StringVar(&f.email, "email", "", "the user's email `ADDRESS`")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from "+
		"standard input, without its final line break")
	fs.StringVar(&f.passwordFile, "password-file", "", "read the password from `FILE`, "+
		"without its final line break")
	fs.BoolVar(&f.passwordPrompt, "password-prompt", false, "ask for the password on the "+
		"terminal (the default of create, on a terminal)")
	return f
}

// apply sets in req the members whose flags were given, reading the
// password from where the flags say. A new user must have one.
func (f *userFlags) apply(s *session, set map[string]bool, req map[string]any, create bool) error {
	if set["username"] {
		req["username"] = f.username
	}
	if set["email"] {
		req["email"] = f.email
	}
	pw, err := f.password(s, set, create)
	if err != nil {
		return err
	}
	if pw != nil {
		req["password"] = *pw
	}
	return nil
}

// password reads the password from the one source the flags name; nil if
// they name none and none is needed.
func (f *userFlags) password(s *session, set map[string]bool, needed bool) (*string, error) {
	file, stdin := set["password-file"], f.passwordStdin
	prompt := f.passwordPrompt || needed && !file && !stdin
	sources := 0
	for _, given := range []bool{file, stdin, f.passwordPrompt} {
		if given {
			sources++
		}
	}
	var data []byte
	var err error
	switch {
	case sources > 1:
		return nil, usagef("give one of --password-stdin, --password-file and --password-prompt")
	case file:
		data, err = os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("read the password file: %w", withoutPath(err))
		}
	case stdin:
		data, err = io.ReadAll(io.LimitReader(os.Stdin, maxPasswordRead))
		if err != nil {
			return nil, fmt.Errorf("read the password from standard input: %w", err)
		}
	case prompt:
		if data, err = promptPassword(s.errOut); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	pw := string(bytes.TrimSuffix(data, []byte("\r")))
	return &pw, nil
}

// promptPassword asks for a password twice on the terminal, without
// echoing it.
func promptPassword(prompt io.Writer) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, usagef("no terminal to ask for the password on: " +
			"give --password-stdin or --password-file")
	}
	fmt.Fprint(prompt, "password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	fmt.Fprint(prompt, "password again: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read the password: %w", err)
	}
	if !bytes.Equal(first, second) {
		return nil, errors.New("the two passwords differ")
	}
	return first, nil
}

func userCreate(fs *flag.FlagSet) action {
	f := newUserFlags(fs)
	return func(ctx context.Context, s *session, _ []string) error {
		req := map[string]any{}
		if err := f.apply(s, visited(fs), req, true); err != nil {
			return err
		}
		body, err := s.api.call(ctx, http.MethodPost, "/admin/users", nil, req)
		if err != nil {
			return err
		}
		return showOne(s, body, userView.fields)
	}
}

func userUpdate(fs *flag.FlagSet) action {
	f := newUserFlags(fs)
	return func(ctx context.Context, s *session, args []string) error {
		set := visited(fs)
		if err := needChange(set, userMembers); err != nil {
			return err
		}
		change := func(req map[string]any) error { return f.apply(s, set, req, false) }
		return update(ctx, s, "/admin/users/", args[0], userView.request, change, userView.fields)
	}
}

func consentList(*flag.FlagSet) action {
	return func(ctx context.Context, s *session, args []string) error {
		path, err := objectPath("/admin/users/", args[0], "/consents")
		if err != nil {
			return err
		}
		var l listing
		if err := getJSON(ctx, s, path, &l); err != nil {
			return err
		}
		if l.Items == nil {
			l.Items = []json.RawMessage{}
		}
		return showList(s, l, consentHeader, consentView.row)
	}
}
