package redirect_test

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/redirect"
)

// The seed corpora live in testdata/fuzz/FuzzValidate and
// testdata/fuzz/FuzzMatch.

// FuzzValidate checks that Validate never panics and that whatever it
// accepts keeps the promises of the package doc.
func FuzzValidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		if redirect.Validate(raw) != nil {
			return
		}

		if len(raw) > redirect.MaxLength || strings.ContainsAny(raw, "#* \\") {
			t.Fatalf("Validate(%q) = nil, want an error (length, fragment or wildcard)", raw)
		}
		u, err := url.Parse(raw)
		if err != nil || u.User != nil {
			t.Fatalf("Validate(%q) = nil, but url.Parse gives %v with userinfo %v",
				raw, err, u.User)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || p[0] == '0' {
				t.Fatalf("Validate(%q) = nil, want an error (port %q)", raw, p)
			}
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http":
			if !loopbackHost.MatchString(u.Hostname()) {
				t.Fatalf("Validate(%q) = nil, want an error (http to host %q)", raw, u.Hostname())
			}
		case strings.Contains(u.Scheme, ".") && u.Host == "":
		default:
			t.Fatalf("Validate(%q) = nil, want an error (scheme %q)", raw, u.Scheme)
		}
		if got, ok := redirect.Match([]string{raw}, raw); got != raw || !ok {
			t.Fatalf("Match([%q], %q) = %q, %v, want the URI itself, true", raw, raw, got, ok)
		}
	})
}

// loopbackHost and loopbackURI are a second, deliberately simple reading
// of what may differ in a loopback redirect; FuzzMatch holds Match to it.
var (
	loopbackHost = regexp.MustCompile(`^(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|::1)$`)
	loopbackURI  = regexp.MustCompile(`(?s)^http://(127\.[0-9.]+|\[::1\])(?::([0-9]+))?([/?#].*)?$`)
)

// FuzzMatch checks that Match accepts a URI that is not registered only
// when it differs from a registered loopback URI by its port, and that it
// does accept every port for a valid loopback registration.
func FuzzMatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, registered, requested string, port uint16) {
		got, ok := redirect.Match([]string{registered}, requested)
		if ok && got != requested {
			t.Fatalf("Match([%q], %q) = %q, true, want the requested URI",
				registered, requested, got)
		}
		if ok && requested != registered && !onlyPortDiffers(registered, requested) {
			t.Fatalf("Match([%q], %q) = %q, true, want false", registered, requested, got)
		}
		if !ok && requested == registered {
			t.Fatalf("Match([%q], %q) = \"\", false, want an exact match", registered, requested)
		}

		// Any port of a valid loopback registration is accepted.
		m := loopbackURI.FindStringSubmatch(registered)
		if m == nil || port == 0 || redirect.Validate(registered) != nil {
			return
		}
		withPort := "http://" + m[1] + ":" + strconv.Itoa(int(port)) + m[3]
		if got, ok := redirect.Match([]string{registered}, withPort); got != withPort || !ok {
			t.Fatalf("Match([%q], %q) = %q, %v, want %q, true",
				registered, withPort, got, ok, withPort)
		}
	})
}

// onlyPortDiffers reports whether a and b are loopback http URIs that are
// equal apart from their ports.
func onlyPortDiffers(a, b string) bool {
	ma, mb := loopbackURI.FindStringSubmatch(a), loopbackURI.FindStringSubmatch(b)
	return ma != nil && mb != nil && ma[1] == mb[1] && ma[3] == mb[3]
}
