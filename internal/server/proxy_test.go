package server_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/config"
)

// startProxiedVeil starts a development-mode Veil that trusts the
// loopback network as its proxies when trust is set.
func startProxiedVeil(t *testing.T, trust bool) *instance {
	t.Helper()
	return startVeilWith(t, "", newMasterKey(t), "", func(c *config.Config) {
		if trust {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
	})
}

// TestRemoteAddrLogged checks the remote_addr of the request log line:
// the forwarded client behind a trusted proxy, the peer otherwise.
func TestRemoteAddrLogged(t *testing.T) {
	instances := map[bool]*instance{
		true:  startProxiedVeil(t, true),
		false: startProxiedVeil(t, false),
	}
	const client = "203.0.113.9"
	tests := []struct {
		name  string
		trust bool
		xff   []string
		want  string
	}{
		{name: "untrusted peer, no header", want: "127.0.0.1"},
		{name: "untrusted peer, header ignored", xff: []string{client}, want: "127.0.0.1"},
		{name: "trusted peer, no header", trust: true, want: "127.0.0.1"},
		{name: "trusted peer, client forwarded", trust: true, xff: []string{client}, want: client},
		{name: "trusted peer, spoofed entry skipped", trust: true,
			xff: []string{"198.51.100.1, " + client}, want: client},
		{name: "trusted peer, trusted hops skipped", trust: true,
			xff: []string{client, "127.0.0.5"}, want: client},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := instances[tt.trust]
			path := fmt.Sprintf("/remote-addr-case-%d", i)
			req, err := http.NewRequest(http.MethodGet, in.base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			do(t, req)

			got := "(no log line)"
			for _, line := range jsonLogLines(t, in) {
				if line["msg"] == "request" && line["endpoint"] == path {
					got, _ = line["remote_addr"].(string)
				}
			}
			if got != tt.want {
				t.Errorf("GET %s with X-Forwarded-For %q: remote_addr = %q, want %q",
					path, tt.xff, got, tt.want)
			}
		})
	}
}

// forwarding is a transport that adds X-Forwarded-For, as a proxy on the
// loopback network would.
type forwarding struct{ client string }

func (f forwarding) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.client)
	return http.DefaultTransport.RoundTrip(r)
}

// TestLoginThrottleFollowsTrustedProxy checks that failed sign-ins are
// counted per forwarded client behind a trusted proxy, and per peer when
// the proxy is not trusted, whatever the header says.
func TestLoginThrottleFollowsTrustedProxy(t *testing.T) {
	tests := []struct {
		name  string
		trust bool
		// want is where a second client behind the same proxy goes
		// after a correct sign-in, once the first used up the address
		// limit.
		want string
	}{
		{name: "trusted proxy", trust: true, want: "/consent?"},
		{name: "untrusted proxy", trust: false, want: "e=throttled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := startProxiedVeil(t, tt.trust)
			in.createResource(apiA, "read")
			web := in.createApp(true, "read", webRedirect)
			in.createUser(userName, userPassword)
			authURL := web.authURL("state-12345", oauth2.GenerateVerifier(), "read")
			behind := func(client string) *browser {
				b := in.newBrowser()
				b.c.Transport = forwarding{client: client}
				return b
			}

			// Twenty failures, each for another name so that no
			// account limit is reached, use up the address limit.
			attacker := behind("203.0.113.9")
			loc := attacker.location(attacker.get(authURL))
			for i := range 20 {
				attacker.login(loc, fmt.Sprintf("nobody-%d", i), "wrong password")
			}
			got := attacker.login(loc, userName, userPassword)
			if !strings.Contains(got, "e=throttled") {
				t.Fatalf("21st sign-in from the attacker went to %s, want the throttled page", got)
			}

			user := behind("203.0.113.10")
			got = user.login(user.location(user.get(authURL)), userName, userPassword)
			if !strings.Contains(got, tt.want) {
				t.Errorf("sign-in from another client behind the proxy went to %s, want %s",
					got, tt.want)
			}
		})
	}
}
