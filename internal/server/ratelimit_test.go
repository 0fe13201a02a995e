package server_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/ratelimit"
)

// The rate limit tests assert nothing about timing. A request within a
// burst passes however slowly it is sent, since a bucket only fills with
// time. A request past it is refused as long as the test sends it sooner
// than one event's refill time after the last; the rates here leave
// seconds for what takes milliseconds, and where a test needs a refusal
// after a burst it sends until it gets one, a bounded number of times.
// Recovery is checked by waiting at least as long as Retry-After says.

// startLimitedVeil starts Veil on a fresh database with limits set by
// adjust and every other limit off, trusting loopback as its proxy, so
// that a test chooses the client address with X-Forwarded-For.
func startLimitedVeil(t *testing.T, adjust func(*config.Config)) *instance {
	t.Helper()
	return startVeilWith(t, pgtest.DSN(t), newMasterKey(t), "", func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		adjust(c)
	})
}

// postFrom is post relayed by a trusted proxy for the client at addr.
// Public clients name themselves in the form; caller is then empty.
func (in *instance) postFrom(addr, path string, caller credentials, form url.Values) response {
	in.t.Helper()
	req, err := http.NewRequest(http.MethodPost, in.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", addr)
	if caller.ID != "" {
		req.SetBasicAuth(url.QueryEscape(caller.ID), url.QueryEscape(caller.Secret))
	}
	return do(in.t, req)
}

// retryAfter checks a 429's Retry-After: whole seconds, from 1 to most.
func retryAfter(t *testing.T, r response, most int) time.Duration {
	t.Helper()
	s := r.header.Get("Retry-After")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		t.Fatalf("Retry-After = %q, want whole seconds from 1 to %d", s, most)
	}
	return time.Duration(n) * time.Second
}

// untilLimited sends until an answer is 429, at most 50 times, and
// returns it. Each other answer must have status passed.
func untilLimited(t *testing.T, passed int, send func() response) response {
	t.Helper()
	for range 50 {
		r := send()
		if r.status == http.StatusTooManyRequests {
			return r
		}
		if r.status != passed {
			t.Fatalf("answer before the limit = %d %s, want %d", r.status, r.body, passed)
		}
	}
	t.Fatal("50 requests past the burst, none refused with 429")
	return response{}
}

var clientCredentialsForm = url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}

// TestTokenRateLimitPerClient checks the per-client limit of the token
// endpoint: a burst passes, the next request is 429 slow_down with
// Retry-After, other clients and requests that fail to authenticate as the
// client spend nothing of its budget, and it recovers after the wait.
func TestTokenRateLimitPerClient(t *testing.T) {
	const burst = 3
	in := startLimitedVeil(t, func(c *config.Config) {
		c.TokenClientRateLimit = ratelimit.Limit{Rate: 1, Burst: burst}
	})
	rs := in.createResource(apiA, "read")
	a, b := in.createClient("read", apiA), in.createClient("read", apiA)
	var issued []string
	token := func(c credentials) response {
		r := in.post("/oauth2/token", c.ID, c.Secret, clientCredentialsForm)
		if r.status == http.StatusOK {
			issued = append(issued, r.json(t)["access_token"].(string))
		}
		return r
	}

	for i := range burst {
		if r := token(a); r.status != http.StatusOK {
			t.Fatalf("token request %d of the burst of %d = %d %s, want 200", i+1, burst, r.status, r.body)
		}
	}
	limited := untilLimited(t, http.StatusOK, func() response { return token(a) })
	assertOAuthError(t, limited, http.StatusTooManyRequests, "slow_down")
	wait := retryAfter(t, limited, 1)

	t.Run("another client is unaffected", func(t *testing.T) {
		if r := token(b); r.status != http.StatusOK {
			t.Errorf("token for another client = %d %s, want 200", r.status, r.body)
		}
	})

	t.Run("failed authentication spends nothing of the client's budget", func(t *testing.T) {
		for range 2 * burst {
			r := in.post("/oauth2/token", b.ID, "not the secret", clientCredentialsForm)
			assertOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		}
		// b spent one of its burst above; the rest is still there.
		for i := range burst - 1 {
			if r := token(b); r.status != http.StatusOK {
				t.Errorf("token %d for b after failures naming it = %d %s, want 200", i+2, r.status, r.body)
			}
		}
	})

	t.Run("recovers after Retry-After", func(t *testing.T) {
		time.Sleep(wait)
		if r := token(a); r.status != http.StatusOK {
			t.Errorf("token after waiting %v = %d %s, want 200", wait, r.status, r.body)
		}
	})

	t.Run("a refused request stores nothing", func(t *testing.T) {
		n := countRows(t, in.dsn, `SELECT count(*) FROM access_tokens`)
		if n != len(issued) {
			t.Errorf("access token records = %d, want the %d tokens issued", n, len(issued))
		}
		for i, tok := range issued {
			if got := in.introspect(rs, tok).json(t); got["active"] != true {
				t.Errorf("introspect(token %d) = %v, want active", i+1, got)
			}
		}
	})
}

// TestTokenRateLimitKeepsGrants checks that a token request refused by the
// rate limit consumes nothing: the code it carried, and then the refresh
// token, are still good once the wait is over.
func TestTokenRateLimitKeepsGrants(t *testing.T) {
	// One request every 4 s: the second of two requests sent back to
	// back is refused.
	in := startLimitedVeil(t, func(c *config.Config) {
		c.TokenClientRateLimit = ratelimit.Limit{Rate: 0.25, Burst: 1}
	})
	rs := in.createResource(apiA, "read")
	web := in.createApp(true, "read offline_access", webRedirect)
	in.createUser(userName, userPassword)
	verifier := oauth2.GenerateVerifier()
	u := in.newBrowser().authorize(web.authURL("state-rate", verifier, "read", "offline_access"),
		userName, userPassword, true)
	code := codeFrom(t, u, webRedirect, "state-rate", in.issuer)
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {webRedirect}, "code_verifier": {verifier}}

	// An authenticated request with a bad code spends the budget.
	bad := url.Values{"grant_type": {"authorization_code"}, "code": {"no-such-code"},
		"redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	assertOAuthError(t, in.post("/oauth2/token", web.creds.ID, web.creds.Secret, bad),
		http.StatusBadRequest, "invalid_grant")
	limited := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, exchange)
	assertOAuthError(t, limited, http.StatusTooManyRequests, "slow_down")

	time.Sleep(retryAfter(t, limited, 4))
	r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, exchange)
	if r.status != http.StatusOK {
		t.Fatalf("code exchange after the wait = %d %s, want 200: the refused one consumed it", r.status, r.body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.json(t)["refresh_token"].(string)}}
	access := r.json(t)["access_token"].(string)

	limited = in.post("/oauth2/token", web.creds.ID, web.creds.Secret, refresh)
	assertOAuthError(t, limited, http.StatusTooManyRequests, "slow_down")
	if got := in.introspect(rs, access).json(t); got["active"] != true {
		t.Errorf("introspect(token of the exchange) after a refused refresh = %v, want active", got)
	}
	time.Sleep(retryAfter(t, limited, 4))
	if r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, refresh); r.status != http.StatusOK {
		t.Errorf("refresh after the wait = %d %s, want 200: the refused one spent the refresh token",
			r.status, r.body)
	}
}

// TestTokenRateLimitPerAddress checks the limits charged to a client
// address: failed client authentications, and a public client's requests,
// which prove nothing about who sent them.
func TestTokenRateLimitPerAddress(t *testing.T) {
	const burst = 3
	// One event every 10 s.
	in := startLimitedVeil(t, func(c *config.Config) {
		c.TokenClientRateLimit = ratelimit.Limit{Rate: 0.1, Burst: burst}
		c.TokenFailureRateLimit = ratelimit.Limit{Rate: 0.1, Burst: burst}
	})
	in.createResource(apiA, "read")
	conf := in.createClient("read", apiA)
	spa := in.createApp(false, "read", "http://127.0.0.1/callback")
	const attacker, other = "203.0.113.9", "203.0.113.10"

	t.Run("failed authentications", func(t *testing.T) {
		wrong := credentials{ID: conf.ID, Secret: "not the secret"}
		for range burst {
			r := in.postFrom(attacker, "/oauth2/token", wrong, clientCredentialsForm)
			assertOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		}
		limited := untilLimited(t, http.StatusUnauthorized, func() response {
			return in.postFrom(attacker, "/oauth2/token", wrong, clientCredentialsForm)
		})
		assertOAuthError(t, limited, http.StatusTooManyRequests, "slow_down")
		retryAfter(t, limited, 10)

		// The address is refused before any credential is checked.
		r := in.postFrom(attacker, "/oauth2/token", conf, clientCredentialsForm)
		assertOAuthError(t, r, http.StatusTooManyRequests, "slow_down")
		if r := in.postFrom(other, "/oauth2/token", conf, clientCredentialsForm); r.status != http.StatusOK {
			t.Errorf("token from another address = %d %s, want 200", r.status, r.body)
		}
	})

	t.Run("public client", func(t *testing.T) {
		// A public client authenticates with nothing: a request with a
		// bad code passes authentication and spends from the budget of
		// the client at this address.
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {spa.creds.ID},
			"code": {"no-such-code"}, "redirect_uri": {"http://127.0.0.1/callback"},
			"code_verifier": {oauth2.GenerateVerifier()}}
		const mallory, alice = "198.51.100.7", "198.51.100.8"
		for range burst {
			assertOAuthError(t, in.postFrom(mallory, "/oauth2/token", credentials{}, form),
				http.StatusBadRequest, "invalid_grant")
		}
		limited := untilLimited(t, http.StatusBadRequest, func() response {
			return in.postFrom(mallory, "/oauth2/token", credentials{}, form)
		})
		assertOAuthError(t, limited, http.StatusTooManyRequests, "slow_down")
		assertOAuthError(t, in.postFrom(alice, "/oauth2/token", credentials{}, form),
			http.StatusBadRequest, "invalid_grant")
	})
}

// loginForm opens a sign-in for a new browser behind the trusted proxy as
// addr, and returns the browser and the form to post.
func loginForm(in *instance, authURL, addr string) (*browser, url.Values) {
	in.t.Helper()
	b := in.newBrowser()
	b.c.Transport = forwarding{client: addr}
	return b, formFields(in.t, b.get(b.location(b.get(authURL))))
}

// signIn posts the login form as username.
func signIn(b *browser, form url.Values, username, password string) response {
	b.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("username", username)
	f.Set("password", password)
	return b.postForm("/login", f)
}

// assertLimitedPage checks the page a rate-limited sign-in gets: 429 with
// Retry-After, an HTML error page like Veil's others, and no redirect.
func assertLimitedPage(t *testing.T, r response, most int) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.header.Get("Location") != "" {
		t.Fatalf("sign-in = %d Location %q, want 429 and no redirect", r.status, r.header.Get("Location"))
	}
	retryAfter(t, r, most)
	if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "text/html") {
		t.Errorf("Content-Type = %q, want an HTML page", ct)
	}
	if r.header.Get("Content-Security-Policy") == "" || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v, want the pages' CSP and no-store", r.header)
	}
	if !strings.Contains(string(r.body), "Too many sign-in attempts") {
		t.Errorf("page %s, want it to say there were too many attempts", r.body)
	}
}

// TestLoginRateLimit checks the sign-in limits per address and per
// account: past either the page is 429 and nothing is counted in storage;
// other addresses and accounts are unaffected.
func TestLoginRateLimit(t *testing.T) {
	const burst = 2
	// One attempt every 10 s.
	in := startLimitedVeil(t, func(c *config.Config) {
		c.LoginAddressRateLimit = ratelimit.Limit{Rate: 0.1, Burst: burst}
		c.LoginAccountRateLimit = ratelimit.Limit{Rate: 0.1, Burst: burst}
	})
	in.createResource(apiA, "read")
	web := in.createApp(true, "read", webRedirect)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		in.createUser(u, userPassword)
	}
	authURL := web.authURL("state-12345", oauth2.GenerateVerifier(), "read")
	failures := func() int { return countRows(t, in.dsn, `SELECT count(*) FROM login_failures`) }

	t.Run("per address", func(t *testing.T) {
		b, form := loginForm(in, authURL, "203.0.113.9")
		// Each attempt names another account, so that only the
		// address limit is reached.
		for _, u := range []string{"alice", "bob"} {
			if loc := b.location(signIn(b, form, u, "wrong password")); !strings.Contains(loc, "e=failed") {
				t.Fatalf("failed sign-in within the limit went to %s, want e=failed", loc)
			}
		}
		before := failures()
		assertLimitedPage(t, signIn(b, form, "carol", userPassword), 10)
		if after := failures(); after != before {
			t.Errorf("login failures recorded = %d after the 429, want %d as before", after, before)
		}

		other, form := loginForm(in, authURL, "203.0.113.10")
		if loc := other.location(signIn(other, form, "carol", userPassword)); !strings.HasPrefix(loc, "/consent?") {
			t.Errorf("sign-in from another address went to %s, want the consent page", loc)
		}
	})

	t.Run("per account", func(t *testing.T) {
		for i, addr := range []string{"198.51.100.1", "198.51.100.2"} {
			b, form := loginForm(in, authURL, addr)
			if loc := b.location(signIn(b, form, "dave", "wrong password")); !strings.Contains(loc, "e=failed") {
				t.Fatalf("failed sign-in %d for dave went to %s, want e=failed", i+1, loc)
			}
		}
		b, form := loginForm(in, authURL, "198.51.100.3")
		before := failures()
		// The username is counted as the database counts it, whatever
		// its case.
		assertLimitedPage(t, signIn(b, form, "DAVE", userPassword), 10)
		if after := failures(); after != before {
			t.Errorf("login failures recorded = %d after the 429, want %d as before", after, before)
		}
		if loc := b.location(signIn(b, form, "bob", userPassword)); !strings.HasPrefix(loc, "/consent?") {
			t.Errorf("sign-in for another account went to %s, want the consent page", loc)
		}
	})
}
