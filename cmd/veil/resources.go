package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// resourceView is a resource as the admin API shows it.
type resourceView struct {
	ID                      string               `json:"id"`
	Identifier              string               `json:"identifier"`
	Name                    string               `json:"name"`
	Scopes                  []string             `json:"scopes"`
	EncryptionKeys          json.RawMessage      `json:"encryption_keys"`
	EncryptionKeysAddedAt   map[string]time.Time `json:"encryption_keys_added_at"`
	TokenEncryptionRequired bool                 `json:"token_encryption_required"`
	SigningAlgorithm        string               `json:"access_token_signing_alg"`
	ClientID                string               `json:"client_id"`
	ClientSecret            string               `json:"client_secret"`
	CreatedAt               time.Time            `json:"created_at"`
	UpdatedAt               time.Time            `json:"updated_at"`
}

func (r resourceView) fields() []field {
	f := []field{
		{"id", r.ID},
		{"identifier", r.Identifier},
		{"name", r.Name},
		{"scopes", list(r.Scopes)},
		{"client_id", r.ClientID},
	}
	if r.ClientSecret != "" {
		f = append(f, field{"client_secret", r.ClientSecret})
	}
	alg := r.SigningAlgorithm
	if alg == "" {
		alg = "(Veil's default)"
	}
	return append(f,
		field{"access_token_signing_alg", alg},
		field{"token_encryption_required", fmt.Sprint(r.TokenEncryptionRequired)},
		field{"encryption_keys", r.keys()},
		field{"created_at", when(r.CreatedAt)},
		field{"updated_at", when(r.UpdatedAt)},
	)
}

// keys names the resource's encryption keys by kid and type, with the
// time each was added: Veil encrypts to the one added last.
func (r resourceView) keys() string {
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if json.Unmarshal(r.EncryptionKeys, &set) != nil {
		return "(unreadable)"
	}
	names := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		names = append(names, fmt.Sprintf("%s (%s, added %s)", k.Kid, k.Kty,
			when(r.EncryptionKeysAddedAt[k.Kid])))
	}
	return list(names)
}

var resourceHeader = []string{"ID", "IDENTIFIER", "NAME", "SCOPES", "CLIENT_ID"}

func (r resourceView) row() []string {
	return []string{r.ID, r.Identifier, r.Name, strings.Join(r.Scopes, " "), r.ClientID}
}

// request is the body of a PUT that keeps every member as it is,
// encryption keys included: a PUT without them removes them.
func (r resourceView) request() map[string]any {
	return map[string]any{
		"identifier":                r.Identifier,
		"name":                      r.Name,
		"scopes":                    r.Scopes,
		"encryption_keys":           r.EncryptionKeys,
		"token_encryption_required": r.TokenEncryptionRequired,
		"access_token_signing_alg":  r.SigningAlgorithm,
	}
}

func resourcesGroup() *group {
	const path = "/admin/resources"
	return &group{
		name: "resources",
		summary: "Register and manage the resource servers (APIs) Veil issues tokens for, " +
			"through its admin API.",
		commands: []*command{
			{name: "create", setup: resourceCreate,
				summary: "register a resource; its introspection secret is shown once"},
			{name: "list", setup: listCmd(path, resourceHeader, resourceView.row),
				summary: "list the resources"},
			{name: "get", args: []string{"RESOURCE_ID"}, summary: "show a resource",
				setup: objectCmd(http.MethodGet, path+"/", "", resourceView.fields)},
			{name: "update", args: []string{"RESOURCE_ID"}, setup: resourceUpdate,
				summary: "change the fields given by flags, keeping the others"},
			{name: "delete", args: []string{"RESOURCE_ID"},
				setup:   deleteCmd("resource", path+"/", ""),
				summary: "delete a resource, revoking the tokens and consents given for it"},
			{name: "rotate-secret", args: []string{"RESOURCE_ID"},
				setup: objectCmd(http.MethodPost, path+"/", "/secret", resourceView.fields),
				summary: "give a resource a new introspection secret, shown once; " +
					"the old one stops working"},
		},
	}
}

// resourceFlags are the fields of a resource, as flags.
type resourceFlags struct {
	identifier, name, keysFile, alg string
	scopes                          listFlag
	required, noKeys                bool
}

// resourceMembers maps the flags of a resource to its members in the API.
var resourceMembers = map[string]string{
	"identifier":         "identifier",
	"name":               "name",
	"scope":              "scopes",
	"encryption-keys":    "encryption_keys",
	"no-encryption-keys": "encryption_keys",
	"require-encryption": "token_encryption_required",
	"signing-alg":        "access_token_signing_alg",
}

func newResourceFlags(fs *flag.FlagSet, update bool) *resourceFlags {
	f := &resourceFlags{scopes: listFlag{fields: true}}
	fs.StringVar(&f.identifier, "identifier", "", "the resource's `URI` (RFC 8707), "+
		"the audience of its tokens")
	fs.StringVar(&f.name, "name", "", "the resource's `NAME`, shown on consent pages")
	fs.Var(&f.scopes, "scope", "the `SCOPES` it offers, separated by spaces; may be repeated")
	fs.StringVar(&f.keysFile, "encryption-keys", "", "a `FILE` holding the JWK Set of the "+
		"public keys its tokens are encrypted to")
	fs.BoolVar(&f.required, "require-encryption", false, "refuse to issue it a token that "+
		"is not encrypted to one of its keys")
	fs.StringVar(&f.alg, "signing-alg", "", "the JWS `ALG` its tokens are signed with "+
		"(default: the first of VEIL_SIGNING_ALGORITHMS)")
	if update {
		fs.BoolVar(&f.noKeys, "no-encryption-keys", false, "remove its encryption keys")
	}
	return f
}

// apply sets in req the members whose flags were given.
func (f *resourceFlags) apply(set map[string]bool, req map[string]any) error {
	if set["encryption-keys"] && set["no-encryption-keys"] {
		return usagef("give --encryption-keys or --no-encryption-keys, not both")
	}
	values := map[string]any{
		"identifier":         f.identifier,
		"name":               f.name,
		"scope":              f.scopes.values,
		"require-encryption": f.required,
		"signing-alg":        f.alg,
		"no-encryption-keys": nil,
	}
	if set["encryption-keys"] {
		data, err := os.ReadFile(f.keysFile)
		if err != nil {
			return fmt.Errorf("read the encryption keys: %w", err)
		}
		if !json.Valid(data) {
			return usagef("the --encryption-keys file is not JSON (want a JWK Set)")
		}
		values["encryption-keys"] = json.RawMessage(data)
	}
	for name, v := range values {
		if set[name] {
			req[resourceMembers[name]] = v
		}
	}
	return nil
}

func resourceCreate(fs *flag.FlagSet) action {
	f := newResourceFlags(fs, false)
	return func(ctx context.Context, s *session, _ []string) error {
		req := map[string]any{}
		if err := f.apply(visited(fs), req); err != nil {
			return err
		}
		body, err := s.api.call(ctx, http.MethodPost, "/admin/resources", nil, req)
		if err != nil {
			return err
		}
		return showWithSecret(s, body, resourceView.fields)
	}
}

func resourceUpdate(fs *flag.FlagSet) action {
	f := newResourceFlags(fs, true)
	return func(ctx context.Context, s *session, args []string) error {
		set := visited(fs)
		if err := needChange(set, resourceMembers); err != nil {
			return err
		}
		change := func(req map[string]any) error { return f.apply(set, req) }
		return update(ctx, s, "/admin/resources/", args[0], resourceView.request, change,
			resourceView.fields)
	}
}
