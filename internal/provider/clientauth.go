package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/reqlog"
	"github.com/veil-auth/veil/internal/storage"
)

// The client authentication methods Veil supports (RFC 7591 §2 names).
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
	AuthNone  = "none"
)

// AuthenticateClient identifies and authenticates the client of a token,
// introspection or revocation request. It replaces fosite's default
// strategy so that Veil decides exactly which methods are accepted:
// client_secret_basic, client_secret_post, or none for public clients. A
// client must use the method it registered, and only one (RFC 6749 §2.3).
//
// Every failure to authenticate is the same invalid_client error, whether the
// client is unknown, the secret wrong or the method not the registered one,
// so the answer tells an attacker nothing about which client IDs exist.
// The authenticated client is recorded in the request's log line; a
// failure is recorded in the audit log, throttled, with its reason.
func (p *Provider) AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	id, secret, method, err := clientCredentials(r, form)
	if err != nil {
		if errors.Is(err, fosite.ErrInvalidClient) {
			p.authFailed(ctx, "", "malformed_credentials")
		}
		return nil, err
	}
	if !validClientID(id) {
		// Veil's IDs are short and URL-safe; anything else cannot exist,
		// and is refused before it reaches the database.
		p.authFailed(ctx, "", "malformed_client_id")
		return nil, fosite.ErrInvalidClient.WithWrap(errMalformedID)
	}

	c, err := p.client(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// An ID that names no client is not recorded: it may be a secret
		// sent in the wrong field, as by a client that swapped the two.
		p.authFailed(ctx, "", "unknown_client")
		return nil, fosite.ErrInvalidClient.WithWrap(err)
	case errors.Is(err, storage.ErrUnavailable):
		return nil, fosite.ErrTemporarilyUnavailable.WithWrap(err)
	case err != nil:
		return nil, fosite.ErrServerError.WithWrap(err)
	}

	if c.TokenEndpointAuthMethod != method {
		p.authFailed(ctx, id, "wrong_method")
		return nil, fosite.ErrInvalidClient.WithWrap(errMethodMismatch)
	}
	if method != AuthNone {
		if err := p.hasher.Compare(ctx, c.SecretHash, []byte(secret)); err != nil {
			p.authFailed(ctx, id, "wrong_secret")
			return nil, fosite.ErrInvalidClient.WithWrap(err)
		}
	}
	reqlog.SetClient(ctx, c.ID)
	return Client{c}, nil
}

// authFailed records a failed client authentication. Anyone can cause
// one, so it is throttled (see audit.Recorder.RecordThrottled) and a
// success costs nothing. id is the client ID presented, empty when it
// names no client.
func (p *Provider) authFailed(ctx context.Context, id, reason string) {
	target := ""
	if id != "" {
		target = audit.Client(id)
	}
	p.audit.RecordThrottled(ctx, audit.Event{Actor: audit.ActorAnonymous,
		Action: audit.ClientAuthFailed, Target: target, Outcome: audit.Failure,
		Details: map[string]string{"reason": reason}})
}

// requester names, for the audit log, the client that authenticated in
// the request ctx belongs to.
func requester(ctx context.Context) string {
	if id := reqlog.Client(ctx); id != "" {
		return audit.Client(id)
	}
	return audit.ActorAnonymous
}

// validClientID reports whether id could be a client ID: 1 to 128
// URL-safe characters.
func validClientID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

var (
	errMalformedID    = errors.New("malformed client id")
	errMethodMismatch = errors.New("client used another authentication method than registered")
	errNoClient       = errors.New("no client identification in request")
)

// clientCredentials extracts the client's ID and secret and says which
// method carried them.
func clientCredentials(r *http.Request, form url.Values) (id, secret, method string, err error) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return "", "", "", fosite.ErrInvalidClient.WithWrap(errors.New("client assertions are not supported"))
	}

	// A client that sent an Authorization header tried to authenticate
	// with it; if it is not one Basic header, the attempt failed (RFC 6749
	// §5.2), rather than being ignored in favour of the form.
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return "", "", "", fosite.ErrInvalidRequest.WithWrap(errors.New("more than one Authorization header"))
	}
	if _, _, ok := r.BasicAuth(); len(auth) == 1 && !ok {
		return "", "", "", fosite.ErrInvalidClient.WithWrap(errors.New("authorization header is not HTTP Basic"))
	}

	if bid, bsecret, ok := r.BasicAuth(); ok {
		if form.Has("client_secret") {
			return "", "", "", fosite.ErrInvalidRequest.WithWrap(errors.New("more than one client authentication method"))
		}
		// RFC 6749 §2.3.1: both values are form-urlencoded before they
		// are put in the Basic credentials.
		id, err1 := url.QueryUnescape(bid)
		secret, err2 := url.QueryUnescape(bsecret)
		if err1 != nil || err2 != nil || id == "" {
			return "", "", "", fosite.ErrInvalidClient.WithWrap(fmt.Errorf("decode basic credentials: %w", errors.Join(err1, err2)))
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return "", "", "", fosite.ErrInvalidRequest.WithWrap(errors.New("client_id differs from basic credentials"))
		}
		return id, secret, AuthBasic, nil
	}

	id = form.Get("client_id")
	if id == "" {
		return "", "", "", fosite.ErrInvalidClient.WithWrap(errNoClient)
	}
	if len(form["client_id"]) > 1 || len(form["client_secret"]) > 1 {
		return "", "", "", fosite.ErrInvalidRequest.WithWrap(errors.New("repeated client parameter"))
	}
	if form.Has("client_secret") {
		return id, form.Get("client_secret"), AuthPost, nil
	}
	return id, "", AuthNone, nil
}
