// Package redirect decides which redirect URIs a client may register and
// whether the redirect_uri of an authorization request is one of them.
//
// The authorization endpoint sends codes to the redirect URI, so a lax rule
// here hands codes to an attacker. Veil therefore registers only URIs that
// can be compared as plain strings and then compares them exactly
// (RFC 6749 §3.1.2, RFC 9700 §4.1.3): no wildcards, no fragments, no
// userinfo, no case folding, no path or query normalisation. The one
// exception is the port of a loopback redirect, which native apps choose at
// run time (RFC 8252 §7.3).
//
// Accepted at registration:
//
//   - https URIs with a host;
//   - http URIs whose host is a loopback IP literal: 127.0.0.0/8 written as
//     a dotted quad, or [::1] (RFC 8252 §7.3). The name localhost is refused
//     because it can resolve elsewhere and fails more often (RFC 8252 §8.3);
//   - private-use schemes of native apps, named after a reverse domain and
//     so holding a dot, with no authority and an absolute path, such as
//     com.example.app:/cb (RFC 8252 §7.1). Such a URI can be claimed by any
//     app on the device, which is why Veil requires PKCE of every public
//     client rather than trusting the scheme.
package redirect

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
)

// MaxLength is the longest redirect URI, in bytes, that Validate accepts.
const MaxLength = 2000

// Errors returned by Validate. Their messages never quote the URI, so they
// may be shown to whoever registered it.
var (
	// ErrTooLong means the URI is longer than MaxLength.
	ErrTooLong = errors.New("redirect URI is longer than 2000 bytes")
	// ErrCharacters means the URI holds a byte that no URI may hold (space,
	// control, non-ASCII, backslash...) or a broken percent-encoding.
	ErrCharacters = errors.New("redirect URI holds characters not allowed in a URI")
	// ErrMalformed means the URI does not parse, or has an empty port.
	ErrMalformed = errors.New("redirect URI is not a valid URI")
	// ErrPort means the port is outside 1 to 65535 or has leading zeros:
	// no browser could be sent to it as registered.
	ErrPort = errors.New("redirect URI port must be a number from 1 to 65535 " +
		"without leading zeros")
	// ErrNotAbsolute means the URI has no scheme.
	ErrNotAbsolute = errors.New("redirect URI must be absolute")
	// ErrFragment means the URI has a fragment, even an empty one
	// (RFC 6749 §3.1.2).
	ErrFragment = errors.New("redirect URI must not contain a fragment")
	// ErrWildcard means the URI holds a '*' anywhere.
	ErrWildcard = errors.New("redirect URI must not contain a wildcard")
	// ErrUserinfo means the URI has user information before its host.
	ErrUserinfo = errors.New("redirect URI must not contain user information")
	// ErrScheme means the scheme is none of those Veil accepts.
	ErrScheme = errors.New("redirect URI scheme must be https, http for loopback, " +
		"or a reverse-domain private-use scheme")
	// ErrDangerous means the scheme runs code or reads local files, such as
	// javascript:, data: or file:.
	ErrDangerous = errors.New("redirect URI scheme is never allowed")
	// ErrNoHost means an http or https URI has no host.
	ErrNoHost = errors.New("redirect URI must name a host")
	// ErrUppercase means the scheme or host is not in lowercase.
	ErrUppercase = errors.New("redirect URI scheme and host must be lowercase")
	// ErrHTTP means an http URI names a host other than a loopback IP
	// literal.
	ErrHTTP = errors.New("http redirect URIs are allowed only for loopback IP literals " +
		"such as 127.0.0.1 or [::1]")
	// ErrLocalhost means an http URI names localhost (RFC 8252 §8.3).
	ErrLocalhost = errors.New("use 127.0.0.1 or [::1] instead of localhost " +
		"in an http redirect URI (RFC 8252 §8.3)")
	// ErrPrivateScheme means a private-use URI has an authority or no
	// absolute path.
	ErrPrivateScheme = errors.New("private-use redirect URI must have no authority " +
		"and a path starting with a slash")
)

// dangerous lists schemes that run code or read local files when followed.
// They also fail the general rule; naming them gives a clearer error.
var dangerous = map[string]bool{
	"javascript": true,
	"data":       true,
	"file":       true,
	"vbscript":   true,
	"blob":       true,
}

// Validate reports whether raw may be registered as a redirect URI, and if
// not, why, as one of the errors above.
func Validate(raw string) error {
	if err := checkText(raw); err != nil {
		return err
	}

	u, err := url.Parse(raw)
	if err != nil {
		return ErrMalformed
	}
	if u.Scheme == "" {
		return ErrNotAbsolute
	}
	if !strings.HasPrefix(raw, u.Scheme+":") {
		return ErrUppercase
	}
	if u.User != nil {
		return ErrUserinfo
	}

	switch {
	case dangerous[u.Scheme]:
		return ErrDangerous
	case u.Scheme == "https":
		return checkHost(u, false)
	case u.Scheme == "http":
		return checkHost(u, true)
	case strings.Contains(u.Scheme, "."):
		return checkPrivate(raw, u)
	}
	return ErrScheme
}

// checkText applies the rules that need no parsing. Fragments and wildcards
// are refused by byte so that no parser quirk can let one through; an empty
// fragment ("#") counts too.
func checkText(raw string) error {
	if len(raw) > MaxLength {
		return ErrTooLong
	}
	if strings.Contains(raw, "#") {
		return ErrFragment
	}
	if strings.Contains(raw, "*") {
		return ErrWildcard
	}
	for i := 0; i < len(raw); i++ {
		if !uriByte(raw[i]) {
			return ErrCharacters
		}
		if raw[i] == '%' && (i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2])) {
			return ErrCharacters
		}
	}
	return nil
}

// uriByte reports whether b may appear in a URI (RFC 3986 §2): unreserved,
// reserved or '%'.
func uriByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", b) >= 0
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// checkHost checks the authority of an http or https URI. Hosts must be
// lowercase because matching is exact: a registration in another case would
// never match what browsers and libraries send.
func checkHost(u *url.URL, loopbackOnly bool) error {
	host := u.Hostname()
	if u.Opaque != "" || host == "" {
		return ErrNoHost
	}
	if strings.HasSuffix(u.Host, ":") {
		return ErrMalformed
	}
	// url.Parse takes any run of digits for a port. Matching is exact, so a
	// registered port that no TCP connection can use (0, 99999) or that
	// clients write another way (0443) would only ever fail to match, or
	// match where the registrant did not expect.
	if port := u.Port(); port != "" && !validPort(port) {
		return ErrPort
	}
	if host != strings.ToLower(host) {
		return ErrUppercase
	}
	if !loopbackOnly {
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return ErrLocalhost
	}
	if !isLoopbackLiteral(host) {
		return ErrHTTP
	}
	return nil
}

// isLoopbackLiteral reports whether host is a loopback IP address written
// in its one canonical form: 127.x.y.z without leading zeros, or ::1. Other
// spellings (zones, IPv4-mapped IPv6, expanded IPv6) are refused so that the
// port-only exception in Match compares like with like.
func isLoopbackLiteral(host string) bool {
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" || addr.String() != host {
		return false
	}
	if addr.Is4() {
		return addr.As4()[0] == 127
	}
	return addr == netip.IPv6Loopback()
}

// checkPrivate checks a private-use URI such as com.example.app:/cb. An
// authority ("://") would let the rest be read as a host by some parsers;
// RFC 8252 §7.1 writes these URIs with a single slash.
func checkPrivate(raw string, u *url.URL) error {
	if u.Opaque != "" || u.Host != "" || strings.HasPrefix(raw, u.Scheme+"://") {
		return ErrPrivateScheme
	}
	if !strings.HasPrefix(u.Path, "/") {
		return ErrPrivateScheme
	}
	return nil
}
