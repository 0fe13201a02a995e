package authorize

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/clientip"
	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/ratelimit"
	"github.com/veil-auth/veil/internal/reqlog"
	"github.com/veil-auth/veil/internal/storage"
)

// maxFormBytes bounds a login or consent form.
const maxFormBytes = 16 << 10

// loginPage serves GET /login?request=ID.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	pr, ok := h.pending(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	a, err := h.resume(r.Context(), pr)
	if h.failed(r.Context(), w, a, err) {
		return
	}
	msg := ""
	switch r.URL.Query().Get("e") {
	case "failed":
		msg = msgFailed
	case "throttled":
		msg = msgThrottled
	case "form":
		msg = msgForm
	}
	h.render(w, http.StatusOK, "login", origin(a.RedirectURI), pageData{
		Title:      "Sign in",
		Message:    msg,
		ClientName: clientName(a.Client.Name),
		RequestID:  pr.ID,
		CSRF:       h.csrfToken("login", h.cookie(r, browserCookie), pr.ID),
	})
}

// login serves POST /login. A failed or throttled sign-in redirects back
// to the form like a success redirects onwards, so it names its outcome
// for the request log and metrics (login_failed, login_throttled).
//
// Two rate limits kept in this process stand in front of the throttling
// counted in storage: per client address, checked before anything else,
// and per username, checked once the form proved to come from a pending
// request in this browser. They turn a flood away before it costs a
// database write or a password hash, and a request they refuse is counted
// nowhere else.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if wait, ok := h.addresses.Allow(ratelimit.AddressKey(clientAddress(r))); !ok {
		h.rateLimited(w, r, wait, "address")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, http.StatusBadRequest, msgForm)
		return
	}
	id := r.PostForm.Get("request")
	pr, ok := h.pending(w, r, id)
	if !ok {
		return
	}
	back := "/login?request=" + url.QueryEscape(pr.ID)
	if !h.checkCSRF("login", h.cookie(r, browserCookie), pr.ID, r.PostForm.Get("csrf")) {
		seeOther(w, back+"&e=form")
		return
	}

	username := r.PostForm.Get("username")
	if wait, ok := h.accounts.Allow(h.accountKey(username)); !ok {
		h.rateLimited(w, r, wait, "account")
		return
	}
	user, err := h.checkPassword(ctx, username, r.PostForm.Get("password"), clientAddress(r))
	switch {
	case errors.Is(err, errThrottled):
		reqlog.SetError(ctx, "login_throttled")
		seeOther(w, back+"&e=throttled")
		return
	case errors.Is(err, errBadCredentials):
		reqlog.SetError(ctx, "login_failed")
		seeOther(w, back+"&e=failed")
		return
	case err != nil:
		h.unavailable(w, "check password", err)
		return
	}

	if err := h.startSession(ctx, w, r, user); err != nil {
		h.unavailable(w, "start session", err)
		return
	}
	a, err := h.resume(ctx, pr)
	if h.failed(ctx, w, a, err) {
		return
	}
	h.proceed(w, r, a, user, pr.ID, "", "")
}

// rateLimited answers a sign-in refused by a rate limit: a page, not a
// redirect back to the form, since the form could only be refused again
// until wait has passed.
func (h *Handler) rateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration, limit string) {
	h.log.Info("login rate limited", "remote_addr", clientAddress(r), "limit", limit)
	w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
	h.errorPage(w, http.StatusTooManyRequests, msgRateLimited)
}

// accountKey is the key an account's sign-ins are counted under, in
// storage and by the rate limit: an HMAC of the lowercased username under
// a key every replica derives alike, so that each counts the same
// account under the same key. The username itself is never kept: it may
// be a password typed in the wrong field, and a copy of the database
// must not hold it. A username too long to exist shares one key, so that
// made-up names cannot fill the rate limit's memory.
func (h *Handler) accountKey(username string) string {
	if len(username) > maxUsernameBytes {
		return "account:"
	}
	m := hmac.New(sha256.New, h.accountHash)
	m.Write([]byte(strings.ToLower(username)))
	return "account:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// maxUsernameBytes is the longest username checkPassword looks up.
const maxUsernameBytes = 256

var (
	errThrottled      = errors.New("authorize: too many failed logins")
	errBadCredentials = errors.New("authorize: bad credentials")
)

// checkPassword authenticates a user. The answer for an unknown user, a
// disabled user and a wrong password is the same, and takes the same time
// (a dummy hash is checked), so the page does not reveal which usernames
// exist.
//
// Every attempt is counted against the account before the password is
// checked, in one atomic storage step, and forgiven only if it succeeds:
// counting after the check would let parallel guesses all pass the limit
// before any of them was recorded.
//
// Every failure is recorded in the audit log, throttled, with its reason,
// naming the user only if the username is one: a username that is not may
// be a password typed in the wrong field, and is never recorded.
func (h *Handler) checkPassword(ctx context.Context, username, pw, addr string) (*storage.User, error) {
	if !storage.ValidText(username) || len(username) > maxUsernameBytes {
		// No such user can exist; answer as for any unknown one.
		password.VerifyDummy(pw, h.cfg.Password)
		h.loginFailed(ctx, nil, "unknown_user")
		return nil, errBadCredentials
	}
	account := h.accountKey(username)
	addrKey := "address:" + addr
	if h.throttled(ctx, addrKey, h.cfg.Throttle.PerAddress) {
		h.loginThrottled(ctx, username, addr)
		return nil, errThrottled
	}
	n, err := h.store.RecordLoginFailure(ctx, account, h.cfg.Now(), h.cfg.Throttle.Window)
	if err != nil {
		return nil, err
	}
	if n > h.cfg.Throttle.PerAccount {
		h.loginThrottled(ctx, username, addr)
		return nil, errThrottled
	}

	u, err := h.store.UserByUsername(ctx, username)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}

	// Each hash takes about 20 MiB for a few tens of milliseconds; a bound
	// on how many run at once keeps a burst of logins from exhausting
	// memory.
	select {
	case h.hashing <- struct{}{}:
		defer func() { <-h.hashing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ok := false
	if u != nil && username != "" && len(pw) <= password.MaxBytes {
		ok, _ = password.Verify(pw, u.PasswordHash)
	} else {
		password.VerifyDummy(pw, h.cfg.Password)
	}
	if !ok || u.Disabled {
		if _, err := h.store.RecordLoginFailure(ctx, addrKey, h.cfg.Now(), h.cfg.Throttle.Window); err != nil {
			return nil, err
		}
		h.log.Info("login failed", "remote_addr", addr)
		h.loginFailed(ctx, u, failureReason(u, ok))
		return nil, errBadCredentials
	}

	if err := h.store.ClearLoginFailures(ctx, account); err != nil {
		return nil, err
	}
	h.rehash(ctx, u, pw)
	return u, nil
}

// loginFailed records a failed sign-in for u, nil if the username named
// no user. Anyone can cause one, so it is throttled (see
// audit.Recorder.RecordThrottled).
func (h *Handler) loginFailed(ctx context.Context, u *storage.User, reason string) {
	target := ""
	if u != nil {
		target = audit.User(u.ID)
	}
	h.cfg.Audit.RecordThrottled(ctx, audit.Event{Actor: audit.ActorAnonymous,
		Action: audit.LoginFailed, Target: target, Outcome: audit.Failure,
		Details: map[string]string{"reason": reason}})
}

// loginThrottled logs and records a sign-in refused by the throttle,
// naming the user if username is one. The lookup costs a query per
// refused attempt, which the process's rate limits bound; if it fails,
// the event names no one.
func (h *Handler) loginThrottled(ctx context.Context, username, addr string) {
	h.log.Info("login throttled", "remote_addr", addr)
	u, err := h.store.UserByUsername(ctx, username)
	if err != nil {
		u = nil
	}
	h.loginFailed(ctx, u, "throttled")
}

// failureReason tells why a sign-in as u (nil for an unknown username)
// failed, given whether the password matched.
func failureReason(u *storage.User, passwordOK bool) string {
	switch {
	case u == nil:
		return "unknown_user"
	case !passwordOK:
		return "wrong_password"
	}
	return "disabled"
}

func (h *Handler) throttled(ctx context.Context, key string, limit int) bool {
	n, err := h.store.LoginFailures(ctx, key, h.cfg.Now(), h.cfg.Throttle.Window)
	// When the count cannot be read, refuse: failing open would let an
	// attacker who can slow the database guess without limit.
	return err != nil || n >= limit
}

// rehash replaces a password hash made under older parameters. Failure
// only delays the upgrade to the next login.
func (h *Handler) rehash(ctx context.Context, u *storage.User, pw string) {
	if !password.NeedsRehash(u.PasswordHash, h.cfg.Password) {
		return
	}
	phc, err := password.Hash(pw, h.cfg.Password)
	if err == nil {
		u.PasswordHash = phc
		err = h.store.UpdateUser(ctx, u)
	}
	if err != nil {
		h.log.Warn("password rehash failed", "user_id", u.ID, "err", err)
	}
}

// startSession signs the browser in with a fresh session cookie. A new
// value at every sign-in means a cookie planted before login (session
// fixation) is worth nothing after it.
func (h *Handler) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u *storage.User) error {
	if old := h.cookie(r, sessionCookie); old != "" {
		_ = h.store.DeleteSession(ctx, hashValue(old))
	}
	v := randomToken()
	now := h.cfg.Now()
	err := h.store.CreateSession(ctx, &storage.Session{
		ID: hashValue(v), UserID: u.ID, AuthTime: now, ExpiresAt: now.Add(h.cfg.SessionLifetime),
	})
	if err != nil {
		return err
	}
	h.setCookie(w, sessionCookie, v, h.cfg.SessionLifetime)
	return nil
}

// clientAddress is the address failed logins are counted against: the TCP
// peer, or the client behind it when the peer is a trusted proxy. Counting
// against a forwarded address that no trusted proxy vouched for would let
// an attacker pick a fresh address for every guess.
func clientAddress(r *http.Request) string {
	return clientip.FromRequest(r)
}

func clientName(name string) string {
	if name == "" {
		return "An application"
	}
	return name
}
