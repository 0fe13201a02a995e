package admin

import (
	"errors"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a request may hold.
const (
	maxName       = 200  // characters in a name
	maxIdentifier = 2000 // bytes in a resource identifier
	maxScopeToken = 200  // bytes in one scope
	maxItems      = 100  // entries in any list
	maxUsername   = 64   // characters in a username
	// maxEmail is the longest address that fits in an SMTP path
	// (RFC 5321 §4.5.3.1.3), in bytes.
	maxEmail = 254
)

// The reasons a resource identifier is refused.
var (
	errIdentifierURI      = errors.New("must be an absolute URI")
	errIdentifierLong     = errors.New("must be at most 2000 bytes long")
	errIdentifierHost     = errors.New("must name a host")
	errIdentifierScheme   = errors.New("must use https, or http with a loopback IP address")
	errIdentifierFragment = errors.New("must not contain a fragment (RFC 8707 §2)")
	errIdentifierQuery    = errors.New("must not contain a query (RFC 8707 §2)")
	errIdentifierUser     = errors.New("must not contain user information")
)

// checkIdentifier checks an RFC 8707 resource indicator. It becomes the aud
// claim of tokens and is compared as a string, so Veil keeps it to forms
// that cannot be read two ways: an absolute https URI with a host, or http
// to a loopback address for development; no fragment (RFC 8707 §2 forbids
// one) and, going beyond that section's advice, no query either.
func checkIdentifier(s string) error {
	if len(s) > maxIdentifier {
		return errIdentifierLong
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || !printableASCII(s) {
		return errIdentifierURI
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return errIdentifierHost
	}

	switch {
	case strings.Contains(s, "#"):
		return errIdentifierFragment
	case strings.Contains(s, "?"):
		return errIdentifierQuery
	case u.User != nil:
		return errIdentifierUser
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return errIdentifierScheme
}

func isLoopback(host string) bool {
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Zone() == "" && addr.IsLoopback() && addr.String() == host
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validScopeToken reports whether s is a scope-token of RFC 6749 §3.3: one
// or more of %x21 / %x23-5B / %x5D-7E, that is printable ASCII but for
// space, '"' and '\'.
func validScopeToken(s string) bool {
	if s == "" || len(s) > maxScopeToken || !printableASCII(s) {
		return false
	}
	return !strings.ContainsAny(s, `"\`)
}

// validName reports whether s may be a human-readable name, shown on consent pages: valid
// UTF-8, at most maxName characters, no control or format characters
// (which could hide or reorder text on the page).
func validName(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxName {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// firstDuplicate returns the index of the first entry of list equal to an
// earlier one, or -1.
func firstDuplicate(list []string) int {
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		if seen[s] {
			return i
		}
		seen[s] = true
	}
	return -1
}

// parseScope splits a space-separated scope parameter (RFC 6749 §3.3) and
// checks each token. An empty string is no scope at all.
func parseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	scopes := strings.Split(s, " ")
	if len(scopes) > maxItems {
		return nil, invalidMetadata("scope has more than %d tokens", maxItems)
	}
	for i, sc := range scopes {
		if !validScopeToken(sc) {
			return nil, invalidMetadata("scope token %d is not valid (RFC 6749 §3.3)", i)
		}
	}
	if i := firstDuplicate(scopes); i >= 0 {
		return nil, invalidMetadata("scope token %d repeats an earlier one", i)
	}
	return scopes, nil
}

// validUsername reports whether s may be a username: 1 to maxUsername
// characters, each a graphic character other than a space. That refuses
// control characters, spaces of every kind, and format, private-use and
// unassigned code points, any of which could make two usernames look the
// same in a list or a log line. Leading and trailing spaces are refused,
// not trimmed, so that what is stored is what the caller sent.
func validUsername(s string) bool {
	if n := utf8.RuneCountInString(s); n == 0 || n > maxUsername || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// validEmail reports whether s is empty or a plain address (RFC 5322
// addr-spec) of at most maxEmail bytes. A display name, angle brackets,
// comments or quoting that net/mail would strip are refused, so that the
// address stored is exactly the one given.
func validEmail(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > maxEmail {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Name == "" && addr.Address == s
}
