package verifier

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

type contextKey struct{}

// ContextWithClaims returns a copy of ctx carrying c. Middleware uses it;
// tests of handlers behind Middleware can too.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, contextKey{}, c)
}

// ClaimsFromContext returns the claims Middleware put in ctx.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(contextKey{}).(*Claims)
	return c, ok && c != nil
}

var (
	errNoToken   = errors.New("verifier: no bearer token")
	errMalformed = errors.New("verifier: malformed authorization header")
)

// Middleware returns middleware that lets a request through only with a
// valid access token carrying requiredScopes (and the Verifier's
// Config.RequiredScopes), and puts its claims in the request's context for
// ClaimsFromContext.
//
// The token is read from the Authorization header alone (RFC 6750 §2.1):
// tokens in a form body or the query string end up in logs and caches, so
// they are not looked for. Failures are answered as RFC 6750 §3 asks, with
// a WWW-Authenticate challenge and a short fixed text; the token is never
// echoed:
//
//   - no bearer token: 401, a challenge without an error code;
//   - a malformed Authorization header: 400, error="invalid_request";
//   - an invalid, expired or misaddressed token: 401, error="invalid_token";
//   - a valid token lacking scope: 403, error="insufficient_scope" and
//     scope listing every scope the route needs;
//   - Veil unreachable: 503, and the cause is logged.
func Middleware(v *Verifier, requiredScopes ...string) func(http.Handler) http.Handler {
	all := slices.Clone(v.required)
	for _, s := range requiredScopes {
		if !slices.Contains(all, s) {
			all = append(all, s)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := v.authorize(r, all)
			if err != nil {
				v.refuse(w, r, err, all)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), claims)))
		})
	}
}

func (v *Verifier) authorize(r *http.Request, scopes []string) (*Claims, error) {
	tok, err := bearerToken(r.Header)
	if err != nil {
		return nil, err
	}
	claims, err := v.Verify(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	if err := claims.RequireScopes(scopes...); err != nil {
		return nil, err
	}
	return claims, nil
}

// bearerToken reads the credentials of RFC 6750 §2.1:
// "Bearer" 1*SP b64token. Another scheme counts as no token at all.
func bearerToken(h http.Header) (string, error) {
	values := h.Values("Authorization")
	if len(values) == 0 {
		return "", errNoToken
	}
	if len(values) > 1 {
		return "", errMalformed
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoToken
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", errMalformed
	}
	return tok, nil
}

// isB64Token reports whether s is a b64token: 1*( ALPHA / DIGIT / "-" /
// "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// refuse answers a request that may not pass.
func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, err error, scopes []string) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	challenge := "Bearer realm=" + quote(v.realm)

	var scopeErr *ScopeError
	var expired *ExpiredError
	switch {
	case errors.Is(err, errNoToken):
		hdr.Set("WWW-Authenticate", challenge)
		http.Error(w, "An access token is required.", http.StatusUnauthorized)
	case errors.Is(err, errMalformed):
		hdr.Set("WWW-Authenticate", challenge+`, error="invalid_request"`)
		http.Error(w, "The Authorization header is malformed.", http.StatusBadRequest)
	case errors.As(err, &scopeErr):
		scope := quote(strings.Join(scopes, " "))
		hdr.Set("WWW-Authenticate", challenge+`, error="insufficient_scope", scope=`+scope)
		http.Error(w, "The access token does not allow this request.", http.StatusForbidden)
	case errors.As(err, &expired):
		hdr.Set("WWW-Authenticate", challenge+
			`, error="invalid_token", error_description="The access token expired"`)
		http.Error(w, "The access token expired.", http.StatusUnauthorized)
	case isTokenError(err):
		hdr.Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
		http.Error(w, "The access token is not valid.", http.StatusUnauthorized)
	default:
		http.Error(w, "The access token cannot be checked now.", http.StatusServiceUnavailable)
		if r.Context().Err() == nil {
			v.log.ErrorContext(r.Context(), "cannot verify access token", "err", err)
			return
		}
		// The client went away while Veil was being asked; nobody to act.
	}
	v.log.DebugContext(r.Context(), "access token refused", "err", err)
}

// isTokenError reports whether err says the token itself is unacceptable
// (RFC 6750 §3.1 invalid_token).
func isTokenError(err error) bool {
	var notYet *NotYetValidError
	var aud *AudienceError
	return errors.Is(err, ErrInvalidToken) || errors.As(err, &notYet) || errors.As(err, &aud)
}

// quote makes s an HTTP quoted-string (RFC 9110 §5.6.4).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			// Not allowed in a quoted-string; dropped.
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
