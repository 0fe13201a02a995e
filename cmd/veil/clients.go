package main

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"strings"
	"time"
)

// clientView is a client as the admin API shows it.
type clientView struct {
	ClientID                string    `json:"client_id"`
	ClientSecret            string    `json:"client_secret"`
	ClientName              string    `json:"client_name"`
	GrantTypes              []string  `json:"grant_types"`
	RedirectURIs            []string  `json:"redirect_uris"`
	Scope                   string    `json:"scope"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method"`
	Resources               []string  `json:"resources"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

func (c clientView) fields() []field {
	f := []field{{"client_id", c.ClientID}}
	if c.ClientSecret != "" {
		f = append(f, field{"client_secret", c.ClientSecret})
	}
	return append(f,
		field{"client_name", c.ClientName},
		field{"token_endpoint_auth_method", c.TokenEndpointAuthMethod},
		field{"grant_types", list(c.GrantTypes)},
		field{"redirect_uris", list(c.RedirectURIs)},
		field{"scope", c.Scope},
		field{"resources", list(c.Resources)},
		field{"created_at", when(c.CreatedAt)},
		field{"updated_at", when(c.UpdatedAt)},
	)
}

var clientHeader = []string{"CLIENT_ID", "NAME", "AUTH_METHOD", "GRANT_TYPES", "SCOPE"}

func (c clientView) row() []string {
	return []string{c.ClientID, c.ClientName, c.TokenEndpointAuthMethod,
		list(c.GrantTypes), c.Scope}
}

// request is the body of a PUT that keeps every member as it is.
func (c clientView) request() map[string]any {
	return map[string]any{
		"client_name":                c.ClientName,
		"grant_types":                c.GrantTypes,
		"redirect_uris":              c.RedirectURIs,
		"scope":                      c.Scope,
		"token_endpoint_auth_method": c.TokenEndpointAuthMethod,
		"resources":                  c.Resources,
	}
}

func clientsGroup() *group {
	const path = "/admin/clients"
	return &group{
		name:    "clients",
		summary: "Register and manage the OAuth2 clients of Veil, through its admin API.",
		commands: []*command{
			{name: "create", setup: clientCreate,
				summary: "register a client; a confidential one's secret is shown once"},
			{name: "list", setup: listCmd(path, clientHeader, clientView.row),
				summary: "list the clients"},
			{name: "get", args: []string{"CLIENT_ID"}, summary: "show a client",
				setup: objectCmd(http.MethodGet, path+"/", "", clientView.fields)},
			{name: "update", args: []string{"CLIENT_ID"}, setup: clientUpdate,
				summary: "change the fields given by flags, keeping the others"},
			{name: "delete", args: []string{"CLIENT_ID"}, summary: "delete a client",
				setup: deleteCmd("client", path+"/", "")},
			{name: "rotate-secret", args: []string{"CLIENT_ID"},
				setup:   objectCmd(http.MethodPost, path+"/", "/secret", clientView.fields),
				summary: "give a client a new secret, shown once; the old one stops working"},
		},
	}
}

// clientFlags are the fields of a client, as flags.
type clientFlags struct {
	name, authMethod                    string
	redirectURIs, grantTypes, resources listFlag
	scopes                              listFlag
}

func newClientFlags(fs *flag.FlagSet) *clientFlags {
	f := &clientFlags{scopes: listFlag{fields: true}}
	fs.StringVar(&f.name, "name", "", "the client's `NAME`, shown on consent pages")
	fs.StringVar(&f.authMethod, "auth-method", "", "the `METHOD` the client authenticates "+
		"with at the token endpoint: client_secret_basic (the default), "+
		"client_secret_post, or none for a public client, which has no secret")
	fs.Var(&f.grantTypes, "grant-type", "a `GRANT` type: authorization_code (the default), "+
		"client_credentials or refresh_token; repeat for several")
	fs.Var(&f.redirectURIs, "redirect-uri", "a redirect `URI`; repeat for several")
	fs.Var(&f.scopes, "scope", "the `SCOPES` the client may ask for, separated by spaces; "+
		"may be repeated")
	fs.Var(&f.resources, "resource", "the `IDENTIFIER` of a resource the client may get "+
		"tokens for; repeat for several")
	return f
}

// apply sets in req the members whose flags were given.
func (f *clientFlags) apply(set map[string]bool, req map[string]any) {
	for name, v := range map[string]any{
		"name":         f.name,
		"auth-method":  f.authMethod,
		"grant-type":   f.grantTypes.values,
		"redirect-uri": f.redirectURIs.values,
		"scope":        strings.Join(f.scopes.values, " "),
		"resource":     f.resources.values,
	} {
		if set[name] {
			req[clientMembers[name]] = v
		}
	}
}

// clientMembers maps the flags of a client to its members in the API.
var clientMembers = map[string]string{
	"name":         "client_name",
	"auth-method":  "token_endpoint_auth_method",
	"grant-type":   "grant_types",
	"redirect-uri": "redirect_uris",
	"scope":        "scope",
	"resource":     "resources",
}

func clientCreate(fs *flag.FlagSet) action {
	f := newClientFlags(fs)
	return func(ctx context.Context, s *session, _ []string) error {
		req := map[string]any{}
		f.apply(visited(fs), req)
		body, err := s.api.call(ctx, http.MethodPost, "/admin/clients", nil, req)
		if err != nil {
			return err
		}
		return showWithSecret(s, body, clientView.fields)
	}
}

func clientUpdate(fs *flag.FlagSet) action {
	f := newClientFlags(fs)
	return func(ctx context.Context, s *session, args []string) error {
		set := visited(fs)
		if err := needChange(set, clientMembers); err != nil {
			return err
		}
		change := func(req map[string]any) error {
			f.apply(set, req)
			return nil
		}
		return update(ctx, s, "/admin/clients/", args[0], clientView.request, change,
			clientView.fields)
	}
}

// update reads the object with the given ID, lets change edit the request
// that would put it back as it is, sends that request and shows the
// answer. A change someone else makes between the two is lost: the API
// has no conditional update.
func update[T any](ctx context.Context, s *session, prefix, id string,
	request func(T) map[string]any, change func(map[string]any) error, fields func(T) []field,
) error {
	path, err := objectPath(prefix, id)
	if err != nil {
		return err
	}
	var cur T
	if err := getJSON(ctx, s, path, &cur); err != nil {
		return err
	}
	req := request(cur)
	if err := change(req); err != nil {
		return err
	}
	body, err := s.api.call(ctx, http.MethodPut, path, nil, req)
	if err != nil {
		return err
	}
	return showOne(s, body, fields)
}

// needChange refuses an update given no flag of a field.
func needChange(set map[string]bool, fields map[string]string) error {
	for name := range set {
		if _, ok := fields[name]; ok {
			return nil
		}
	}
	return usagef("nothing to change: give the flag of each field to change")
}

// getJSON reads the object at path into v.
func getJSON(ctx context.Context, s *session, path string, v any) error {
	body, err := s.api.call(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errAnswer
	}
	return nil
}
