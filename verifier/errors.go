package verifier

import (
	"errors"
	"strings"
	"time"
)

// ErrInvalidToken is returned for every token that is not a well-formed,
// authentic Veil access token: it does not parse, uses an algorithm the
// Verifier does not accept, cannot be decrypted, names an unknown key, has a
// bad signature, is not typed at+jwt, lacks a required claim, names another
// issuer, or (in introspection mode) is not active. The cause is not kept:
// a caller, and through it an attacker, cannot tell a bad MAC from a bad
// signature or a malformed header.
var ErrInvalidToken = errors.New("verifier: invalid token")

// The errors below are returned only for tokens that passed every
// cryptographic check, so telling them apart reveals nothing about the
// keys. Any non-nil error from Verify means the request must be refused.

// ExpiredError reports an authentic token whose exp has passed, leeway
// included.
type ExpiredError struct {
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// Error says the token expired, without its claims.
func (e *ExpiredError) Error() string { return "verifier: token expired" }

// NotYetValidError reports an authentic token whose nbf or iat lies in the
// future, beyond the leeway: a clock far off on one side or the other.
type NotYetValidError struct {
	// ValidFrom is the later of the token's nbf and iat.
	ValidFrom time.Time
}

// Error says the token is not yet valid, without its claims.
func (e *NotYetValidError) Error() string { return "verifier: token not yet valid" }

// AudienceError reports an authentic token issued for another resource
// server: its aud does not contain the configured Audience. The claims are
// kept out of the message, which may be logged.
type AudienceError struct {
	// Want is the configured Audience.
	Want string
	// Got is the token's aud.
	Got []string
}

// Error says the token is for another audience, without naming it.
func (e *AudienceError) Error() string { return "verifier: token is for another audience" }

// ScopeError reports a valid token that lacks scopes the request needs
// (RFC 6750 §3.1 insufficient_scope).
type ScopeError struct {
	// Required lists every scope the request needs.
	Required []string
	// Missing lists the required scopes the token lacks.
	Missing []string
}

// Error names the missing scopes.
func (e *ScopeError) Error() string {
	return "verifier: token lacks scope " + strings.Join(e.Missing, " ")
}

// UnavailableError reports that the token could not be checked because Veil
// could not be asked: its metadata, JWKS or introspection endpoint failed,
// timed out or answered something unusable. It says nothing about the
// token, which may well be valid; the middleware answers 503.
type UnavailableError struct {
	// Err is the cause. It never holds the token or a secret.
	Err error
}

// Error says Veil could not be asked, and why.
func (e *UnavailableError) Error() string {
	return "verifier: issuer unavailable: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }
