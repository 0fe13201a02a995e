package admin

import (
	"errors"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
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
	errIdentifierCase     = errors.New("must have its scheme and host in lowercase")
	errIdentifierNoPort   = errors.New("must not have a colon without a port after its host")
	errIdentifierPort     = errors.New("must have a port from 1 to 65535, without leading zeros")
	errIdentifierDefault  = errors.New("must leave out the default port of its scheme")
	errIdentifierDot      = errors.New("must not end its host with a dot")
	errIdentifierIP       = errors.New("must write an IP address in its shortest form, " +
		"without a zone")
	errIdentifierEscape = errors.New("must not percent-encode unreserved characters, " +
		"and must write percent-encodings in uppercase (RFC 3986 §6.2.2)")
	errIdentifierSegment = errors.New(`must not have "." or ".." path segments`)
)

// defaultPorts are the ports a URI of each scheme Veil accepts has when it
// names none (RFC 9110 §4.2).
var defaultPorts = map[string]string{"https": "443", "http": "80"}

// checkIdentifier checks an RFC 8707 resource indicator. It becomes the aud
// claim of tokens and is compared as a string, so Veil keeps it to forms
// that cannot be read two ways: an absolute https URI with a host, or http
// to a loopback address for development; no fragment (RFC 8707 §2 forbids
// one) and, going beyond that section's advice, no query either; and
// spelled canonically (see checkCanonical).
func checkIdentifier(s string) error {
	if len(s) > maxIdentifier {
		return errIdentifierLong
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || !uriText(s) {
		return errIdentifierURI
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return errIdentifierHost
	}
	if strings.ContainsAny(u.EscapedPath(), "[]") {
		return errIdentifierURI
	}

	switch {
	case strings.Contains(s, "#"):
		return errIdentifierFragment
	case strings.Contains(s, "?"):
		return errIdentifierQuery
	case u.User != nil:
		return errIdentifierUser
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return errIdentifierScheme
	}
	return checkCanonical(s, u)
}

// checkCanonical refuses an identifier that URI normalisation (RFC 3986
// §6.2.2, and the port rule of §6.2.3) would rewrite into another string:
// an uppercase scheme or host, an empty or default port, a port with
// leading zeros, a host ending in a dot or an IP address written the long
// way, percent-encoded unreserved characters or lowercase hex digits, and
// "." or ".." path segments. Registered as they were, https://A.EXAMPLE and
// https://a.example:443 would be two resources that every HTTP client
// takes for one, with two audiences and two sets of grants; refused, each
// resource has one spelling, and string comparison (RFC 8707) agrees with
// URI comparison.
//
// The one exception is the path "/" against an empty path, which §6.2.3
// also equates: https://a.example and https://a.example/ are both accepted
// and are two identifiers, because RFC 8707 compares indicators as strings
// and a resource server sends its own exactly as registered.
func checkCanonical(s string, u *url.URL) error {
	if !strings.HasPrefix(s, u.Scheme+"://") || u.Host != strings.ToLower(u.Host) {
		return errIdentifierCase
	}

	host, port := u.Hostname(), u.Port()
	switch {
	case strings.HasSuffix(u.Host, ":"):
		return errIdentifierNoPort
	case port != "" && !validPort(port):
		return errIdentifierPort
	case port == defaultPorts[u.Scheme]:
		return errIdentifierDefault
	case strings.HasSuffix(host, "."):
		return errIdentifierDot
	case !canonicalIP(host):
		return errIdentifierIP
	}

	if !canonicalEscapes(s) {
		return errIdentifierEscape
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." {
			return errIdentifierSegment
		}
	}
	return nil
}

// validPort reports whether p is a port from 1 to 65535 written without
// leading zeros. url.Parse has already checked that it is digits.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && p[0] != '0' && n >= 1 && n <= 65535
}

// canonicalIP reports whether host, if it is an IP address, is written in
// its one canonical form: an IPv4 dotted quad without leading zeros, or an
// IPv6 address in the form of RFC 5952 without a zone. A host of digits
// and dots that is not a dotted quad ("010.0.0.1", "2130706433") is some
// resolver's IPv4 address in another notation, so it is refused too.
func canonicalIP(host string) bool {
	if strings.Contains(host, ":") || strings.Trim(host, "0123456789.") == "" {
		addr, err := netip.ParseAddr(host)
		return err == nil && addr.Zone() == "" && addr.String() == host
	}
	return true
}

// canonicalEscapes reports whether every percent-encoding in s is of a
// character that must be encoded, in uppercase hex (RFC 3986 §2.1, §2.3).
// url.Parse has already checked that each % is followed by two hex digits.
func canonicalEscapes(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		hex := s[i+1 : i+3]
		if hex != strings.ToUpper(hex) {
			return false
		}
		b, err := strconv.ParseUint(hex, 16, 8)
		if err != nil || unreserved(byte(b)) {
			return false
		}
	}
	return true
}

// unreserved reports whether b is an unreserved character (RFC 3986 §2.3).
func unreserved(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

func isLoopback(host string) bool {
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Zone() == "" && addr.IsLoopback() && addr.String() == host
}

// uriText reports whether s holds only characters that RFC 3986 §2 allows
// in a URI: unreserved, reserved and '%'. url.Parse lets others through
// (a quote, a brace), which a client would send percent-encoded: a second
// spelling of the same identifier.
func uriText(s string) bool {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && strings.IndexByte(":/?#[]@!$&'()*+,;=%", s[i]) < 0 {
			return false
		}
	}
	return true
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

// nameRule says what validName accepts, for error descriptions.
var nameRule = "must be at most " + strconv.Itoa(maxName) + " characters, " +
	"without control, format or separator characters but the plain space"

// validName reports whether s may be a human-readable name, shown on
// consent pages: valid UTF-8, at most maxName characters, no control or
// format characters (which could hide or reorder text on the page), and no
// separator but the plain space U+0020. Line and paragraph separators
// (U+2028, U+2029) break a name across lines, and the other spaces
// (no-break, ideographic, hair and the like) make names that differ look
// alike.
func validName(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxName {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) ||
			(unicode.Is(unicode.Z, r) && r != ' ') {
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
