package redirect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/redirect"
)

// validateTests has one row per rule of Validate.
var validateTests = []struct {
	name string
	in   string
	want error
}{
	{"https", "https://c.example/cb", nil},
	{"https with port and query", "https://c.example:8443/cb?x=1", nil},
	{"https without path", "https://c.example", nil},
	{"https ipv6", "https://[2001:db8::1]/cb", nil},
	{"http loopback", "http://127.0.0.1/cb", nil},
	{"http loopback port", "http://127.0.0.1:8080/cb", nil},
	{"http loopback other 127", "http://127.10.0.3/cb", nil},
	{"http ipv6 loopback", "http://[::1]:9000/cb", nil},
	{"private-use scheme", "com.example.app:/oauth2/cb", nil},
	{"percent encoding", "https://c.example/a%2Fb", nil},

	{"empty", "", redirect.ErrNotAbsolute},
	{"relative", "/cb", redirect.ErrNotAbsolute},
	{"scheme-relative", "//c.example/cb", redirect.ErrNotAbsolute},
	{"javascript", "javascript:alert(1)", redirect.ErrDangerous},
	{"javascript upper", "JavaScript:alert(1)", redirect.ErrUppercase},
	{"data", "data:text/html,hi", redirect.ErrDangerous},
	{"file", "file:///etc/passwd", redirect.ErrDangerous},
	{"ftp", "ftp://c.example/cb", redirect.ErrScheme},
	{"custom without dot", "myapp:/cb", redirect.ErrScheme},
	{"private with authority", "com.example.app://cb", redirect.ErrPrivateScheme},
	{"private opaque", "com.example.app:cb", redirect.ErrPrivateScheme},
	{"fragment", "https://c.example/cb#x", redirect.ErrFragment},
	{"empty fragment", "https://c.example/cb#", redirect.ErrFragment},
	{"wildcard host", "https://*.c.example/cb", redirect.ErrWildcard},
	{"wildcard path", "https://c.example/*", redirect.ErrWildcard},
	{"userinfo", "https://user@c.example/cb", redirect.ErrUserinfo},
	{"empty userinfo", "https://@c.example/cb", redirect.ErrUserinfo},
	{"userinfo with password", "https://u:p@c.example/cb", redirect.ErrUserinfo},
	{"too long", "https://c.example/" + strings.Repeat("a", 2000), redirect.ErrTooLong},
	{"http remote", "http://c.example/cb", redirect.ErrHTTP},
	{"http private ip", "http://10.0.0.1/cb", redirect.ErrHTTP},
	{"http localhost", "http://localhost:8080/cb", redirect.ErrLocalhost},
	{"http sub.localhost", "http://app.localhost/cb", redirect.ErrLocalhost},
	{"http mapped loopback", "http://[::ffff:127.0.0.1]/cb", redirect.ErrHTTP},
	{"http expanded ipv6", "http://[0:0:0:0:0:0:0:1]/cb", redirect.ErrHTTP},
	{"http zone", "http://[::1%25eth0]/cb", redirect.ErrHTTP},
	{"uppercase scheme", "HTTPS://c.example/cb", redirect.ErrUppercase},
	{"uppercase host", "https://C.example/cb", redirect.ErrUppercase},
	{"no host", "https:///cb", redirect.ErrNoHost},
	{"opaque https", "https:c.example", redirect.ErrNoHost},
	{"port only", "https://:443/cb", redirect.ErrNoHost},
	{"empty port", "https://c.example:/cb", redirect.ErrMalformed},
	{"bad port", "https://c.example:x/cb", redirect.ErrMalformed},
	{"highest port", "https://c.example:65535/cb", nil},
	{"port too big", "https://c.example:99999/cb", redirect.ErrPort},
	{"port just too big", "https://c.example:65536/cb", redirect.ErrPort},
	{"port zero", "https://c.example:0/cb", redirect.ErrPort},
	{"port leading zero", "https://c.example:0443/cb", redirect.ErrPort},
	{"port many digits", "https://c.example:00000000000000000443/cb", redirect.ErrPort},
	{"loopback port zero", "http://127.0.0.1:0/cb", redirect.ErrPort},
	{"loopback port too big", "http://127.0.0.1:70000/cb", redirect.ErrPort},
	{"ipv6 loopback port too big", "http://[::1]:99999/cb", redirect.ErrPort},
	{"space", "https://c.example/a b", redirect.ErrCharacters},
	{"backslash", "https://c.example\\@evil.example/cb", redirect.ErrCharacters},
	{"control", "https://c.example/\ncb", redirect.ErrCharacters},
	{"non-ascii", "https://c.example/é", redirect.ErrCharacters},
	{"bad escape", "https://c.example/%zz", redirect.ErrCharacters},
	{"truncated escape", "https://c.example/%4", redirect.ErrCharacters},
}

func TestValidate(t *testing.T) {
	for _, tt := range validateTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redirect.Validate(tt.in); !errors.Is(got, tt.want) {
				t.Errorf("Validate(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestValidateErrorsQuoteNothing checks that no error message repeats the
// URI, so callers may show the message as it is.
func TestValidateErrorsQuoteNothing(t *testing.T) {
	const marker = "zq7marker"
	inputs := []string{
		"javascript:" + marker,
		"https://" + marker + ".example/cb#",
		"http://" + marker + ".example/cb",
		"https://" + marker + "@c.example/cb",
		marker,
	}
	for _, in := range inputs {
		err := redirect.Validate(in)
		if err == nil || strings.Contains(err.Error(), marker) {
			t.Errorf("Validate(%q) = %v, want an error that does not quote the input", in, err)
		}
	}
}

// TestMatch covers security case 1: exact matching, with only the port of
// a loopback redirect allowed to differ.
func TestMatch(t *testing.T) {
	registered := []string{
		"https://c.example/cb",
		"http://127.0.0.1/cb",
		"http://[::1]:8080/cb?a=1",
	}
	tests := []struct {
		name      string
		requested string
		want      string
		wantOK    bool
	}{
		{"exact https", "https://c.example/cb", "https://c.example/cb", true},
		{"exact loopback", "http://127.0.0.1/cb", "http://127.0.0.1/cb", true},
		{"loopback port added", "http://127.0.0.1:53123/cb", "http://127.0.0.1:53123/cb", true},
		{"ipv6 loopback other port", "http://[::1]:1/cb?a=1", "http://[::1]:1/cb?a=1", true},
		{"ipv6 loopback no port", "http://[::1]/cb?a=1", "http://[::1]/cb?a=1", true},

		{"path case", "https://c.example/CB", "", false},
		{"host case", "https://C.example/cb", "", false},
		{"trailing slash", "https://c.example/cb/", "", false},
		{"added query", "https://c.example/cb?x=1", "", false},
		{"added fragment", "https://c.example/cb#x", "", false},
		{"https port added", "https://c.example:443/cb", "", false},
		{"scheme case", "HTTPS://c.example/cb", "", false},
		{"loopback path case", "http://127.0.0.1:53123/CB", "", false},
		{"loopback trailing slash", "http://127.0.0.1:53123/cb/", "", false},
		{"loopback added query", "http://127.0.0.1:53123/cb?x=1", "", false},
		{"loopback other address", "http://127.0.0.2:53123/cb", "", false},
		{"loopback https", "https://127.0.0.1:53123/cb", "", false},
		{"loopback localhost", "http://localhost:53123/cb", "", false},
		{"loopback empty port", "http://127.0.0.1:/cb", "", false},
		{"loopback port zero", "http://127.0.0.1:0/cb", "", false},
		{"loopback port leading zero", "http://127.0.0.1:080/cb", "", false},
		{"loopback port too big", "http://127.0.0.1:65536/cb", "", false},
		{"loopback port sign", "http://127.0.0.1:+80/cb", "", false},
		{"loopback userinfo", "http://127.0.0.1:80@evil.example/cb", "", false},
		{"loopback userinfo before", "http://evil@127.0.0.1/cb", "", false},
		{"ipv6 query dropped", "http://[::1]:1/cb", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := redirect.Match(registered, tt.requested)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Match(%q) = %q, %v, want %q, %v",
					tt.requested, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMatchNoneRegistered(t *testing.T) {
	if got, ok := redirect.Match(nil, "http://127.0.0.1/cb"); ok {
		t.Errorf("Match(nil, loopback) = %q, %v, want \"\", false", got, ok)
	}
}
