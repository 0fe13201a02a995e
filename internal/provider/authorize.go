package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/redirect"
	"github.com/veil-auth/veil/internal/storage"
)

// ErrBadClientOrRedirect is returned by Authorization when the request
// names no known client or a redirect URI not registered for it. Such an
// error must be shown on an error page and never redirected (RFC 6749
// §4.1.2.1): redirecting would make Veil an open redirector.
var ErrBadClientOrRedirect = errors.New("provider: unknown client or unregistered redirect URI")

// Authorization is a validated authorization request (RFC 6749 §4.1.1),
// ready to be shown to the user and then answered.
type Authorization struct {
	// Request is fosite's parsed request.
	Request fosite.AuthorizeRequester
	// Client is the requesting client.
	Client Client
	// Resource is the resource server the token will be for.
	Resource *storage.Resource
	// Scopes are the scopes to grant if the user consents.
	Scopes []string
	// Prompt holds the prompt values asked for (none, login, consent).
	Prompt []string
	// RedirectURI is where the answer goes.
	RedirectURI string
	// State is the client's state, returned untouched with the answer.
	State string
}

// HasPrompt reports whether the request asked for prompt value v.
func (a *Authorization) HasPrompt(v string) bool { return slices.Contains(a.Prompt, v) }

// challengeFormat is a base64url SHA-256, the only challenge S256 yields.
var challengeFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// Authorization validates an authorization request. A bad client or
// redirect URI is ErrBadClientOrRedirect; every other problem comes back as
// an error for AuthorizeErrorRedirect, with the Authorization when one
// could be built (so the error can be redirected).
func (p *Provider) Authorization(ctx context.Context, r *http.Request) (*Authorization, error) {
	q := r.URL.Query()
	if DropEmpty(q) {
		// fosite reads the request itself: give it the cleaned query.
		r.URL.RawQuery = q.Encode()
		r.Form = nil
	}
	c, redirectURI, err := p.checkClientRedirect(ctx, q)
	if err != nil {
		return nil, err
	}
	a := &Authorization{Client: c, RedirectURI: redirectURI}
	if len(q["state"]) == 1 {
		a.State = q.Get("state")
	}
	if !storage.ValidText(r.URL.RawQuery) {
		// The query is kept as it came while the user signs in; bytes
		// that are not UTF-8 could not be stored, and are the client's
		// error, not an outage.
		return a, errInvalidRequest("The request is not valid UTF-8.")
	}

	ar, err := p.fosite.NewAuthorizeRequest(ctx, r)
	if ar != nil {
		a.Request = ar
	}
	if err != nil {
		return a, err
	}
	if err := checkAuthorizeParams(q, c); err != nil {
		return a, err
	}
	a.Prompt = strings.Fields(q.Get("prompt"))

	res, err := p.resolveResource(ctx, c, q["resource"])
	if err != nil {
		return a, err
	}
	scopes, err := grantableScopes(c, res, ar.GetRequestedScopes(), true)
	if err != nil {
		return a, err
	}
	a.Resource, a.Scopes = res, scopes
	return a, nil
}

// DropEmpty removes parameters sent without a value, which RFC 6749 §3.1
// and §3.2 require to be treated as omitted, and reports whether it
// removed any. A parameter repeated with a value keeps its non-empty
// values.
func DropEmpty(v url.Values) bool {
	changed := false
	for k, vs := range v {
		kept := vs[:0]
		for _, s := range vs {
			if s != "" {
				kept = append(kept, s)
			}
		}
		switch {
		case len(kept) == 0:
			delete(v, k)
			changed = true
		case len(kept) != len(vs):
			v[k] = kept
			changed = true
		}
	}
	return changed
}

// checkClientRedirect finds the client and the redirect URI to answer to,
// using Veil's exact matching rules (RFC 9700 §4.1.3; loopback ports may
// vary, RFC 8252 §7.3).
func (p *Provider) checkClientRedirect(ctx context.Context, q url.Values) (Client, string, error) {
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) > 1 {
		return Client{}, "", ErrBadClientOrRedirect
	}
	c, err := p.client(ctx, q.Get("client_id"))
	if errors.Is(err, storage.ErrNotFound) {
		return Client{}, "", ErrBadClientOrRedirect
	}
	if err != nil {
		return Client{}, "", fositeError(err)
	}
	if c.Kind != storage.KindClient || !slices.Contains(c.GrantTypes, "authorization_code") {
		return Client{}, "", ErrBadClientOrRedirect
	}

	requested := q.Get("redirect_uri")
	if requested == "" {
		// RFC 6749 §3.1.2.3: without redirect_uri the client must have
		// registered exactly one.
		if len(c.RedirectURIs) != 1 {
			return Client{}, "", ErrBadClientOrRedirect
		}
		return Client{c}, c.RedirectURIs[0], nil
	}
	matched, ok := redirect.Match(c.RedirectURIs, requested)
	if !ok {
		return Client{}, "", ErrBadClientOrRedirect
	}
	return Client{c}, matched, nil
}

// checkAuthorizeParams applies the rules Veil adds to fosite's: PKCE with
// S256 for every client (RFC 9700 §2.1.1; plain would let an attacker who
// sees the request redeem the code), parameters not repeated, the
// resource parameter instead of fosite's audience, known prompt values.
func checkAuthorizeParams(q url.Values, c Client) error {
	for _, name := range []string{"response_type", "scope", "state", "code_challenge", "code_challenge_method", "prompt"} {
		if len(q[name]) > 1 {
			return errInvalidRequest("A parameter was sent more than once.")
		}
	}
	if q.Get("response_type") != "code" {
		// fosite matches response types without regard to case but
		// issues codes only for "code" exactly; RFC 6749 §3.1.1 defines
		// the lowercase value, so any other spelling is unsupported.
		return &Error{Code: "unsupported_response_type", Status: http.StatusBadRequest,
			Description: descriptions["unsupported_response_type"]}
	}
	switch {
	case q.Get("code_challenge") == "":
		return errInvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256.")
	case q.Get("code_challenge_method") != "S256":
		return errInvalidRequest("Only the S256 code_challenge_method is supported.")
	case !challengeFormat.MatchString(q.Get("code_challenge")):
		return errInvalidRequest("The code_challenge must be a base64url SHA-256 (43 characters).")
	case q.Has("audience"):
		return errInvalidRequest("Name the resource with the resource parameter (RFC 8707), not audience.")
	}
	for _, v := range strings.Fields(q.Get("prompt")) {
		if v != "none" && v != "login" && v != "consent" {
			return errInvalidRequest("The prompt value is not supported.")
		}
	}
	if p := strings.Fields(q.Get("prompt")); slices.Contains(p, "none") && len(p) > 1 {
		return errInvalidRequest("prompt=none cannot be combined with other values.")
	}
	return nil
}
