package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/veil-auth/veil/internal/reqlog"
)

// Approve answers an authorization the user consented to: it issues a code
// bound to the client, the redirect URI and the PKCE challenge, and returns
// the URI to redirect the browser to.
func (p *Provider) Approve(ctx context.Context, a *Authorization, userID, consentID string) (string, error) {
	for _, s := range a.Scopes {
		a.Request.GrantScope(s)
	}
	a.Request.GrantAudience(a.Resource.Identifier)
	sess := NewSession()
	sess.Subject = userID
	sess.UserID = userID
	sess.ConsentID = consentID

	resp, err := p.fosite.NewAuthorizeResponse(ctx, a.Request, sess)
	if err != nil {
		return "", err
	}
	code := resp.GetParameters().Get("code")
	if code == "" {
		return "", errors.New("provider: no code issued")
	}
	return p.answerURI(a, url.Values{"code": {code}}), nil
}

// AuthorizeErrorRedirect returns where to send the browser for an
// authorization error: the client's validated redirect URI with error,
// error_description, state and iss (RFC 6749 §4.1.2.1, RFC 9207). The code
// is recorded for the request's log line and metrics.
func (p *Provider) AuthorizeErrorRedirect(ctx context.Context, a *Authorization, err error) string {
	code, _, desc := Describe(err)
	if code == "invalid_client" {
		// The client was validated before any redirect; a later
		// invalid_client from fosite means the request itself was bad.
		code = "invalid_request"
	}
	reqlog.SetError(ctx, code)
	return p.answerURI(a, url.Values{"error": {code}, "error_description": {desc}})
}

// answerURI adds params, the request's state and the issuer to the
// redirect URI, keeping any query the registered URI already has.
func (p *Provider) answerURI(a *Authorization, params url.Values) string {
	u, err := url.Parse(a.RedirectURI)
	if err != nil {
		// Registered URIs were parsed at registration; this cannot happen.
		return a.RedirectURI
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if a.State != "" {
		q.Set("state", a.State)
	}
	q.Set("iss", p.cfg.Issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// Errors the authorization flow raises itself.
var (
	// ErrAccessDenied is the user's refusal (RFC 6749 §4.1.2.1).
	ErrAccessDenied = &Error{Code: "access_denied", Status: http.StatusForbidden,
		Description: "The user denied the request."}
	// ErrLoginRequired answers prompt=none without a signed-in user.
	ErrLoginRequired = &Error{Code: "login_required", Status: http.StatusBadRequest,
		Description: "The user is not signed in."}
	// ErrConsentRequired answers prompt=none when consent is missing.
	ErrConsentRequired = &Error{Code: "consent_required", Status: http.StatusBadRequest,
		Description: "The user has not consented to this request."}
)

// Covers reports whether a remembered set of scopes covers a request.
func Covers(granted, requested []string) bool {
	for _, s := range requested {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}
