package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/pgtest"
)

// outageAnswerWithin bounds how long token, introspection and revocation
// requests may take while the database is out of reach: a client or a
// resource server waiting on Veil is waiting on every request behind it.
const outageAnswerWithin = 2 * time.Second

// TestDatabaseOutage stops, kills and freezes Veil's PostgreSQL under it.
// Meanwhile token, introspection and revocation requests must answer at
// once with 503 temporarily_unavailable: never a token, never an active
// token, never a 500. When the database is back, Veil must serve again
// without a restart, and a token issued before the outage must be as it
// was.
func TestDatabaseOutage(t *testing.T) {
	db := pgtest.NewCluster(t)
	in := startVeil(t, db.URL(), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	client := in.createClient("read", apiA)
	before := in.mustToken(client, apiA)

	outages := []struct {
		name       string
		begin, end func(t testing.TB)
	}{
		{name: "stopped", begin: func(t testing.TB) { db.Stop(t, true) }, end: db.Start},
		{name: "killed", begin: func(t testing.TB) { db.Stop(t, false) }, end: db.Start},
		{name: "frozen", begin: db.Freeze, end: db.Thaw},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			// Warm the pool, so the outage meets open connections as
			// well as new ones.
			in.mustToken(client, apiA)

			o.begin(t)
			ended := false
			end := func() {
				if !ended {
					ended = true
					o.end(t)
				}
			}
			// The next outage needs the database back, even if this
			// one failed half way.
			t.Cleanup(end)

			// Twice: the first round meets the pool's open connections,
			// the second has to open new ones.
			for range 2 {
				checkUnavailable(t, in, rs, client, before)
			}
			if r := in.get("/.well-known/jwks.json"); r.status != http.StatusOK {
				t.Errorf("GET jwks.json during the outage = %d, want 200 (keys are in memory)", r.status)
			}

			end()
			checkRecovered(t, in, rs, client, before)
		})
	}

	t.Run("revocation after recovery", func(t *testing.T) {
		r := in.post("/oauth2/revoke", client.ID, client.Secret, url.Values{"token": {before}})
		if r.status != http.StatusOK {
			t.Fatalf("revoke = %d %s, want 200", r.status, r.body)
		}
		assertInactive(t, in.introspect(rs, before))
	})
}

// checkUnavailable sends a token, an introspection and a revocation
// request at once and checks that each is a quick 503.
func checkUnavailable(t *testing.T, in *instance, rs, client credentials, tok string) {
	t.Helper()
	requests := []struct {
		name   string
		path   string
		caller credentials
		form   url.Values
	}{
		{name: "token", path: "/oauth2/token", caller: client,
			form: url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}},
		{name: "introspect", path: "/oauth2/introspect", caller: rs, form: url.Values{"token": {tok}}},
		{name: "revoke", path: "/oauth2/revoke", caller: client, form: url.Values{"token": {tok}}},
	}

	answers := make([]timedResponse, len(requests))
	var wg sync.WaitGroup
	for i, req := range requests {
		wg.Go(func() { answers[i] = in.postTimed(req.path, req.caller, req.form) })
	}
	wg.Wait()

	for i, req := range requests {
		a := answers[i]
		if a.err != nil {
			t.Errorf("POST %s during the outage: %v", req.path, a.err)
			continue
		}
		if a.took > outageAnswerWithin {
			t.Errorf("POST %s during the outage took %v, want at most %v", req.path, a.took, outageAnswerWithin)
		}
		assertOAuthError(t, a.response, http.StatusServiceUnavailable, "temporarily_unavailable")
		if got := a.header.Get("Retry-After"); got == "" {
			t.Errorf("POST %s during the outage: no Retry-After header", req.path)
		}
	}
}

// checkRecovered waits, a bounded time, until Veil issues tokens again,
// then checks the new token and the old one.
func checkRecovered(t *testing.T, in *instance, rs, client credentials, old string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}
	deadline := time.Now().Add(10 * time.Second)
	var last timedResponse
	for time.Now().Before(deadline) {
		last = in.postTimed("/oauth2/token", client, form)
		if last.err == nil && last.status == http.StatusOK {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last.err != nil || last.status != http.StatusOK {
		t.Fatalf("token after the database came back = %d %s %v, want 200 within 10s", last.status, last.body, last.err)
	}

	fresh, _ := last.json(t)["access_token"].(string)
	for name, tok := range map[string]string{"new token": fresh, "token from before": old} {
		if got := in.introspect(rs, tok).json(t); got["active"] != true {
			t.Errorf("introspect(%s) after the outage = %v, want active", name, got)
		}
	}
}

// timedResponse is a response with how long it took, or the error that
// stopped it.
type timedResponse struct {
	response
	took time.Duration
	err  error
}

// patientClient gives up long after outageAnswerWithin, so that a
// request that hangs fails the test instead of stalling it.
var patientClient = &http.Client{Timeout: 10 * time.Second}

// postTimed posts form to a public endpoint with HTTP Basic credentials.
// Unlike post it may run outside the test's goroutine: it returns its
// failure.
func (in *instance) postTimed(path string, caller credentials, form url.Values) timedResponse {
	req, err := http.NewRequest(http.MethodPost, in.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return timedResponse{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(caller.ID), url.QueryEscape(caller.Secret))
	return send(req)
}

// send runs one exchange and times it.
func send(req *http.Request) timedResponse {
	start := time.Now()
	resp, err := patientClient.Do(req)
	if err != nil {
		return timedResponse{took: time.Since(start), err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return timedResponse{
		response: response{status: resp.StatusCode, header: resp.Header, body: body},
		took:     time.Since(start),
		err:      err,
	}
}
