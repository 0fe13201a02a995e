package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/server"
)

// auditEvent is an item of GET /admin/audit.
type auditEvent struct {
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	Action    string            `json:"action"`
	Target    string            `json:"target"`
	Outcome   string            `json:"outcome"`
	RequestID string            `json:"request_id"`
	Source    string            `json:"source"`
	Details   map[string]string `json:"details"`
}

// auditEvents returns the events GET /admin/audit lists for query (one
// page of at most 200), newest first.
func (in *instance) auditEvents(query string) []auditEvent {
	in.t.Helper()
	r := in.admin(http.MethodGet, "/admin/audit?limit=200&"+query, nil)
	if r.status != http.StatusOK {
		in.t.Fatalf("GET /admin/audit?%s = %d %s", query, r.status, r.body)
	}
	var list struct {
		Items []auditEvent `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		in.t.Fatalf("audit listing %s: %v", r.body, err)
	}
	return list.Items
}

// oneEvent returns the single event of an action, failing unless there is
// exactly one.
func (in *instance) oneEvent(action string) auditEvent {
	in.t.Helper()
	events := in.auditEvents("action=" + action)
	if len(events) != 1 {
		in.t.Fatalf("%d %s events, want 1: %+v", len(events), action, events)
	}
	return events[0]
}

// wantEvent checks an event's actor, target, outcome and the details
// given, and that it names the request and the loopback address it came
// from.
func wantEvent(t *testing.T, got auditEvent, actor, target, outcome string, details map[string]string) {
	t.Helper()
	if got.Actor != actor || got.Target != target || got.Outcome != outcome {
		t.Errorf("%s event = %s %s %s, want %s %s %s", got.Action, got.Actor, got.Target, got.Outcome,
			actor, target, outcome)
	}
	if got.RequestID == "" || got.Source != "127.0.0.1" {
		t.Errorf("%s event request_id, source = %q, %q, want an ID and 127.0.0.1", got.Action,
			got.RequestID, got.Source)
	}
	for k, v := range details {
		if got.Details[k] != v {
			t.Errorf("%s event details[%s] = %q, want %q (details %v)", got.Action, k, got.Details[k], v,
				got.Details)
		}
	}
}

// requestLine returns the request log line with the given request ID.
func requestLine(t *testing.T, in *instance, id string) map[string]any {
	t.Helper()
	for _, line := range jsonLogLines(t, in) {
		if line["msg"] == "request" && line["request_id"] == id {
			return line
		}
	}
	t.Fatalf("no request log line has request_id %q", id)
	return nil
}

// TestAuditEvents drives every event of the OAuth side through real flows
// on PostgreSQL and checks the one event each records: failed client
// authentications and sign-ins (throttled), consents given and withdrawn,
// code replay, refresh-token reuse and revocation. Successful token
// requests record nothing.
func TestAuditEvents(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read")
	cc := in.createClient("read", apiA)
	web := in.createApp(true, "read offline_access", webRedirect)
	userID := in.createUser(userName, userPassword)
	ctx := context.Background()

	t.Run("admin changes", func(t *testing.T) {
		wantEvent(t, in.oneEvent(audit.UserCreate), "admin", "user:"+userID, "success",
			map[string]string{"username": userName})
		if got := in.auditEvents("action=client.create&actor=admin"); len(got) != 2 {
			t.Errorf("%d client.create events, want 2", len(got))
		}
	})

	t.Run("successful token requests record nothing", func(t *testing.T) {
		before := len(in.auditEvents(""))
		for range 3 {
			in.mustToken(cc, apiA)
		}
		if after := len(in.auditEvents("")); after != before {
			t.Errorf("%d events after three token requests, want %d as before", after, before)
		}
	})

	t.Run("client.auth_failed, throttled", func(t *testing.T) {
		for range 5 {
			r := in.post("/oauth2/token", cc.ID, "wrong-secret", url.Values{"grant_type": {"client_credentials"}})
			assertOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		}
		in.post("/oauth2/token", "nosuchclient", "x", url.Values{"grant_type": {"client_credentials"}})
		events := in.auditEvents("action=client.auth_failed")
		if len(events) != 2 {
			t.Fatalf("%d client.auth_failed events for 6 failures of 2 clients, want 2: %+v", len(events), events)
		}
		wantEvent(t, events[1], "anonymous", "client:"+cc.ID, "failure", map[string]string{"reason": "wrong_secret"})
		wantEvent(t, events[0], "anonymous", "", "failure",
			map[string]string{"reason": "unknown_client"})
		if line := requestLine(t, in, events[1].RequestID); line["endpoint"] != "/oauth2/token" ||
			line["status"] != float64(http.StatusUnauthorized) {
			t.Errorf("request line of the event = %v, want the refused token request", line)
		}
	})

	b := in.newBrowser()
	t.Run("login.failed", func(t *testing.T) {
		loc := b.location(b.get(web.authURL("state-audit-1", oauth2.GenerateVerifier(), "read")))
		if got := b.login(loc, userName, "not the password"); !strings.Contains(got, "e=failed") {
			t.Fatalf("wrong password went to %s, want the login page again", got)
		}
		if got := b.login(loc, "nobody", "not the password"); !strings.Contains(got, "e=failed") {
			t.Fatalf("unknown user went to %s, want the login page again", got)
		}
		events := in.auditEvents("action=login.failed")
		if len(events) != 2 {
			t.Fatalf("%d login.failed events, want 2: %+v", len(events), events)
		}
		wantEvent(t, events[1], "anonymous", "user:"+userID, "failure", map[string]string{"reason": "wrong_password"})
		wantEvent(t, events[0], "anonymous", "", "failure", map[string]string{"reason": "unknown_user"})
	})

	var code, verifier string
	t.Run("consent.grant", func(t *testing.T) {
		verifier = oauth2.GenerateVerifier()
		u := b.authorize(web.authURL("state-audit-2", verifier, "read", "offline_access"), userName, userPassword, false)
		code = codeFrom(t, u, webRedirect, "state-audit-2", in.issuer)
		wantEvent(t, in.oneEvent(audit.ConsentGrant), "user:"+userID, "user:"+userID, "success",
			map[string]string{"client_id": web.creds.ID, "resource": apiA,
				"scopes": "offline_access read", "remember": "false"})
	})

	t.Run("code.replay", func(t *testing.T) {
		if _, err := web.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("Exchange() = %v", err)
		}
		if _, err := web.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
			t.Fatal("second Exchange() of one code succeeded")
		}
		// Further replays within the throttle interval are counted,
		// not written.
		for range 3 {
			if _, err := web.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
				t.Fatal("another Exchange() of one code succeeded")
			}
		}
		ev := in.oneEvent(audit.CodeReplay)
		wantEvent(t, ev, "client:"+web.creds.ID, ev.Target, "failure",
			map[string]string{"client_id": web.creds.ID, "user_id": userID})
		if !strings.HasPrefix(ev.Target, "grant:") {
			t.Errorf("code.replay target = %q, want grant:<id>", ev.Target)
		}
	})

	t.Run("refresh_token.reuse", func(t *testing.T) {
		// The replay revoked the first grant; a second one has a live
		// refresh token to rotate and reuse.
		v := oauth2.GenerateVerifier()
		u := b.authorize(web.authURL("state-audit-3", v, "read", "offline_access"), userName, userPassword, false)
		tok, err := web.cfg.Exchange(ctx, codeFrom(t, u, webRedirect, "state-audit-3", in.issuer), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatalf("Exchange() = %v", err)
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		if r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, form); r.status != http.StatusOK {
			t.Fatalf("refresh = %d %s", r.status, r.body)
		}
		assertOAuthError(t, in.post("/oauth2/token", web.creds.ID, web.creds.Secret, form),
			http.StatusBadRequest, "invalid_grant")
		for range 3 {
			assertOAuthError(t, in.post("/oauth2/token", web.creds.ID, web.creds.Secret, form),
				http.StatusBadRequest, "invalid_grant")
		}
		ev := in.oneEvent(audit.RefreshTokenReuse)
		wantEvent(t, ev, "client:"+web.creds.ID, ev.Target, "failure",
			map[string]string{"client_id": web.creds.ID, "user_id": userID})
		if replay := in.oneEvent(audit.CodeReplay); !strings.HasPrefix(ev.Target, "grant:") ||
			ev.Target == replay.Target {
			t.Errorf("refresh_token.reuse target = %q, want grant:<id> of the second grant", ev.Target)
		}

		// Revoking a rotated refresh token is no reuse.
		in.post("/oauth2/revoke", web.creds.ID, web.creds.Secret, url.Values{"token": {tok.RefreshToken}})
		if got := in.auditEvents("action=refresh_token.reuse"); len(got) != 1 {
			t.Errorf("%d refresh_token.reuse events after revoking a rotated token, want 1", len(got))
		}
	})

	t.Run("token.revoke", func(t *testing.T) {
		before := len(in.auditEvents("action=token.revoke"))
		tok := in.mustToken(cc, apiA)
		if r := in.post("/oauth2/revoke", cc.ID, cc.Secret, url.Values{"token": {tok}}); r.status != http.StatusOK {
			t.Fatalf("revoke = %d %s", r.status, r.body)
		}
		// Unknown tokens, and another client's, revoke nothing.
		in.post("/oauth2/revoke", cc.ID, cc.Secret, url.Values{"token": {"garbage"}})
		in.post("/oauth2/revoke", web.creds.ID, web.creds.Secret, url.Values{"token": {tok}})
		events := in.auditEvents("action=token.revoke&actor=" + url.QueryEscape("client:"+cc.ID))
		if len(events) != 1 || len(in.auditEvents("action=token.revoke")) != before+1 {
			t.Fatalf("token.revoke events by the owner = %+v, want 1 new in all", events)
		}
		wantEvent(t, events[0], "client:"+cc.ID, events[0].Target, "success", nil)
		if !strings.HasPrefix(events[0].Target, "grant:") {
			t.Errorf("token.revoke target = %q, want grant:<id>", events[0].Target)
		}
	})

	t.Run("consent.revoke", func(t *testing.T) {
		loc := b.location(b.get(web.authURL("state-audit-4", oauth2.GenerateVerifier(), "read")))
		if !strings.HasPrefix(loc, "/consent") {
			t.Fatalf("authorization went to %s, want the consent page", loc)
		}
		b.decide(loc, "deny", false)
		ev := in.oneEvent(audit.ConsentRevoke)
		wantEvent(t, ev, "user:"+userID, "user:"+userID, "success",
			map[string]string{"client_id": web.creds.ID, "resource": apiA, "decision": "deny"})

		list := in.admin(http.MethodGet, "/admin/users/"+userID+"/consents", nil).json(t)
		items, _ := list["items"].([]any)
		if len(items) == 0 {
			t.Fatalf("consents = %v, want some", list)
		}
		id := str(items[0].(map[string]any)["id"])
		if r := in.admin(http.MethodDelete, "/admin/users/"+userID+"/consents/"+id, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE consent = %d %s", r.status, r.body)
		}
		events := in.auditEvents("action=consent.revoke&actor=admin")
		if len(events) != 1 {
			t.Fatalf("%d consent.revoke events by admin, want 1", len(events))
		}
		wantEvent(t, events[0], "admin", "user:"+userID, "success",
			map[string]string{"consent_id": id, "client_id": web.creds.ID, "resource": apiA})
	})
}

// TestAuditKeyEvents checks the key events: a rotation the key manager
// starts when one is due (actor system), one an administrator asks for,
// and a rewrap by `veil keys rewrap`.
func TestAuditKeyEvents(t *testing.T) {
	dsn, mk := pgtest.DSN(t), newMasterKey(t)
	fast := func(c *config.Config) {
		c.JWKSMaxAge = time.Second
		c.KeyRefreshInterval = 200 * time.Millisecond
		c.KeyRotationInterval = 3 * time.Second
		c.SigningAlgorithms = []string{"ES256"}
	}
	in := startVeilWith(t, dsn, mk, "", fast)

	var system []auditEvent
	for deadline := time.Now().Add(20 * time.Second); len(system) == 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		system = in.auditEvents("action=key.rotate&actor=system")
	}
	if len(system) == 0 {
		t.Fatal("no key.rotate event by system within 20s of a rotation falling due")
	}
	ev := system[len(system)-1]
	if ev.Target != "keys" || ev.Outcome != "success" || ev.Details["forced"] != "false" ||
		ev.Details["added"] == "" || ev.Details["retired"] == "" || ev.RequestID != "" || ev.Source != "" {
		t.Errorf("first automatic rotation = %+v, want target keys, one key added, one retired, "+
			"no request", ev)
	}

	if r := in.admin(http.MethodPost, "/admin/keys/rotate", nil); r.status != http.StatusOK {
		t.Fatalf("POST /admin/keys/rotate = %d %s", r.status, r.body)
	}
	manual := in.auditEvents("action=key.rotate&actor=admin")
	if len(manual) != 1 {
		t.Fatalf("%d key.rotate events by admin, want 1", len(manual))
	}
	wantEvent(t, manual[0], "admin", "keys", "success", map[string]string{"forced": "true"})
	in.stop()

	cfg := &config.Config{DatabaseURL: dsn, MasterKeys: [][]byte{newMasterKey(t), mk},
		SigningAlgorithms: []string{"ES256"}, KeyRotationInterval: time.Hour, JWKSMaxAge: time.Minute,
		KeyRefreshInterval: time.Second, AccessTokenLifespan: 15 * time.Minute}
	km, closeStore, err := server.OpenKeys(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	n, err := km.Rewrap(audit.WithActor(context.Background(), audit.ActorAdmin))
	closeStore()
	if err != nil || n == 0 {
		t.Fatalf("Rewrap() = %d, %v; want every key resealed", n, err)
	}

	again := startVeilWith(t, dsn, cfg.MasterKeys[0], "", func(c *config.Config) {
		fast(c)
		c.KeyRotationInterval = time.Hour
	})
	rewraps := again.auditEvents("action=key.rewrap")
	if len(rewraps) != 1 {
		t.Fatalf("%d key.rewrap events, want 1", len(rewraps))
	}
	got := rewraps[0]
	want := auditEvent{ID: got.ID, Time: got.Time, Actor: "admin", Action: "key.rewrap", Target: "keys",
		Outcome: "success", Details: map[string]string{"resealed": strconv.Itoa(n)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("key.rewrap event (-want +got):\n%s", diff)
	}
}

// TestAuditThrottledLogin checks that a sign-in refused by the throttle
// is recorded against the user it names, and against no one when the
// username names no user.
func TestAuditThrottledLogin(t *testing.T) {
	in := startLimitedVeil(t, func(*config.Config) {})
	in.createResource(apiA, "read")
	web := in.createApp(true, "read", webRedirect)
	userID := in.createUser(userName, userPassword)
	authURL := web.authURL("state-12345", oauth2.GenerateVerifier(), "read")

	b, form := loginForm(in, authURL, "198.51.100.1")
	for range 5 {
		signIn(b, form, userName, "wrong password")
		signIn(b, form, "nobody", "wrong password")
	}
	// From another address, so that the audit throttle has not seen
	// the attempt's target and source yet.
	for _, name := range []string{strings.ToUpper(userName), "nobody"} {
		b, form := loginForm(in, authURL, "198.51.100.2")
		if loc := b.location(signIn(b, form, name, userPassword)); !strings.Contains(loc, "e=throttled") {
			t.Fatalf("sign-in as %s after five failures went to %s, want the throttled page", name, loc)
		}
	}

	var targets []string
	for _, ev := range in.auditEvents("action=login.failed") {
		if ev.Details["reason"] == "throttled" {
			targets = append(targets, ev.Target)
		}
	}
	if want := []string{"", "user:" + userID}; !cmp.Equal(targets, want) {
		t.Errorf("targets of throttled login.failed events = %q, want %q", targets, want)
	}
}
