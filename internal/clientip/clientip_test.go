package clientip_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/veil-auth/veil/internal/clientip"
)

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    netip.Prefix
		wantErr bool
	}{
		{name: "ipv4 cidr", in: "10.0.0.0/8", want: netip.MustParsePrefix("10.0.0.0/8")},
		{name: "host bits masked", in: "10.1.2.3/8", want: netip.MustParsePrefix("10.0.0.0/8")},
		{name: "ipv6 cidr", in: "fd00::/8", want: netip.MustParsePrefix("fd00::/8")},
		{name: "single ipv4", in: "192.0.2.7", want: netip.MustParsePrefix("192.0.2.7/32")},
		{name: "single ipv6", in: "2001:db8::1", want: netip.MustParsePrefix("2001:db8::1/128")},
		{name: "spaces trimmed", in: " 10.0.0.0/8 ", want: netip.MustParsePrefix("10.0.0.0/8")},
		{name: "everything v4", in: "0.0.0.0/0", wantErr: true},
		{name: "everything v6", in: "::/0", wantErr: true},
		{name: "mapped", in: "::ffff:10.0.0.0/104", wantErr: true},
		{name: "bad bits", in: "10.0.0.0/33", wantErr: true},
		{name: "host name", in: "proxy.example.test", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := clientip.ParsePrefix(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePrefix(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParsePrefix(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}

	if _, err := clientip.ParsePrefix("0.0.0.0/0"); !errors.Is(err, clientip.ErrEverything) {
		t.Errorf("ParsePrefix(0.0.0.0/0) = %v, want ErrEverything", err)
	}
}

func TestResolve(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}
	// peer is a trusted proxy's address.
	const peer = "10.0.0.1:5000"
	tr := trusted
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies trusted", peer, []string{"203.0.113.9"}, nil, "10.0.0.1"},
		{"untrusted peer", "198.51.100.4:5000", []string{"203.0.113.9"}, tr, "198.51.100.4"},
		{"trusted peer without header", peer, nil, tr, "10.0.0.1"},
		{"one proxy", peer, []string{"203.0.113.9"}, tr, "203.0.113.9"},
		{"client prepends a lie", peer, []string{"192.0.2.66, 203.0.113.9"}, tr, "203.0.113.9"},
		{"two proxies", peer, []string{"192.0.2.66, 203.0.113.9, 10.2.3.4"}, tr, "203.0.113.9"},
		{"header lines", peer, []string{"192.0.2.66", "203.0.113.9, 10.2.3.4"}, tr, "203.0.113.9"},
		{"every hop trusted", peer, []string{"10.9.9.9, 10.2.3.4"}, tr, "10.9.9.9"},
		{"garbage right of client", peer, []string{"203.0.113.9, nonsense"}, tr, "10.0.0.1"},
		{"garbage after trusted hop", peer, []string{"unknown, 10.2.3.4"}, tr, "10.2.3.4"},
		{"empty entry", peer, []string{"203.0.113.9,,"}, tr, "10.0.0.1"},
		{"hop with port", peer, []string{"203.0.113.9:4711"}, tr, "203.0.113.9"},
		{"ipv6 hop with port", peer, []string{"[2001:db8::9]:4711"}, tr, "2001:db8::9"},
		{"ipv6 peer trusted", "[fd00::1]:5000", []string{"2001:db8::9"}, tr, "2001:db8::9"},
		{"mapped peer", "[::ffff:10.0.0.1]:5000", []string{"203.0.113.9"}, tr, "203.0.113.9"},
		{"mapped hop unmapped", peer, []string{"::ffff:203.0.113.9"}, tr, "203.0.113.9"},
		{"zone dropped", "[fe80::1%eth0]:5000", nil, nil, "fe80::1"},
		{"not an address", "pipe", nil, nil, "pipe"},
		{"host name peer", "example.test:1", nil, nil, "example.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientip.Resolve(tt.remote, tt.xff, tt.trusted); got != tt.want {
				t.Errorf("Resolve(%q, %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	var got, fromCtx string
	record := func(w http.ResponseWriter, r *http.Request) {
		got, fromCtx = clientip.FromRequest(r), clientip.FromContext(r.Context())
	}
	h := clientip.Middleware(trusted, http.HandlerFunc(record))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:5000"
	r.Header.Add("X-Forwarded-For", "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "203.0.113.9" || fromCtx != got {
		t.Errorf("FromRequest(), FromContext() behind the middleware = %q, %q, want 203.0.113.9 twice",
			got, fromCtx)
	}

	// Without the middleware, the header counts for nothing, and the
	// context knows no address.
	if got := clientip.FromRequest(r); got != "10.0.0.1" {
		t.Errorf("FromRequest() without the middleware = %q, want 10.0.0.1", got)
	}
	if got := clientip.FromContext(r.Context()); got != "" {
		t.Errorf("FromContext() without the middleware = %q, want empty", got)
	}
}
