package authorize

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/storage"
)

// authorize serves GET /oauth2/authorize.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := h.p.Authorization(ctx, r)
	if h.failed(ctx, w, a, err) {
		return
	}

	browser := h.browser(w, r)
	user, _, _ := h.signedIn(ctx, r)
	if user == nil || a.HasPrompt("login") {
		if a.HasPrompt("none") {
			seeOther(w, h.p.AuthorizeErrorRedirect(ctx, a, provider.ErrLoginRequired))
			return
		}
		id, err := h.savePending(ctx, a, browser, r.URL.RawQuery)
		if err != nil {
			h.unavailable(w, "save pending request", err)
			return
		}
		seeOther(w, "/login?request="+url.QueryEscape(id))
		return
	}
	h.proceed(w, r, a, user, "", browser, r.URL.RawQuery)
}

// failed answers an invalid authorization request and reports whether it
// did: an error page for a bad client or redirect URI, a redirect to the
// client for anything else.
func (h *Handler) failed(ctx context.Context, w http.ResponseWriter, a *provider.Authorization, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, provider.ErrBadClientOrRedirect):
		h.errorPage(w, http.StatusBadRequest, msgBadClient)
	case a == nil:
		h.unavailable(w, "validate authorization request", err)
	default:
		code, status, _ := provider.Describe(err)
		if status >= 500 {
			h.log.Error("authorization request failed", "client_id", a.Client.ID, "error_code", code, "err", provider.Cause(err))
		} else {
			h.log.Debug("authorization request refused", "client_id", a.Client.ID, "error_code", code, "err", provider.Cause(err))
		}
		seeOther(w, h.p.AuthorizeErrorRedirect(ctx, a, err))
	}
	return true
}

// proceed continues a request for a signed-in user: straight back to the
// client with a code when a remembered consent covers it, to the consent
// page otherwise. pendingID names the stored request, if there is one.
func (h *Handler) proceed(w http.ResponseWriter, r *http.Request, a *provider.Authorization, user *storage.User, pendingID, browser, query string) {
	ctx := r.Context()
	c, err := h.store.Consent(ctx, user.ID, a.Client.ID, a.Resource.Identifier)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.unavailable(w, "load consent", err)
		return
	}
	if c != nil && c.Remember && provider.Covers(c.Scopes, a.Scopes) && !a.HasPrompt("consent") {
		if pendingID != "" {
			if _, err := h.store.ConsumeAuthRequest(ctx, pendingID); err != nil {
				h.errorPage(w, http.StatusBadRequest, msgExpired)
				return
			}
		}
		h.approve(w, ctx, a, user.ID, c.ID)
		return
	}
	if a.HasPrompt("none") {
		seeOther(w, h.p.AuthorizeErrorRedirect(ctx, a, provider.ErrConsentRequired))
		return
	}

	if pendingID == "" {
		pendingID, err = h.savePending(ctx, a, browser, query)
		if err != nil {
			h.unavailable(w, "save pending request", err)
			return
		}
	}
	seeOther(w, "/consent?request="+url.QueryEscape(pendingID))
}

// approve issues the code and sends the browser back to the client.
func (h *Handler) approve(w http.ResponseWriter, ctx context.Context, a *provider.Authorization, userID, consentID string) {
	uri, err := h.p.Approve(ctx, a, userID, consentID)
	if err != nil {
		code, status, _ := provider.Describe(err)
		if status >= 500 {
			h.log.Error("issue authorization code failed", "client_id", a.Client.ID, "error_code", code, "err", err)
		}
		seeOther(w, h.p.AuthorizeErrorRedirect(ctx, a, err))
		return
	}
	h.log.Debug("authorization code issued", "client_id", a.Client.ID, "user_id", userID)
	seeOther(w, uri)
}

func (h *Handler) savePending(ctx context.Context, a *provider.Authorization, browser, query string) (string, error) {
	now := h.cfg.Now()
	pr := &storage.AuthRequest{
		ID:          randomToken()[:22],
		BrowserHash: hashValue(browser),
		ClientID:    a.Client.ID,
		Query:       query,
		CreatedAt:   now,
		ExpiresAt:   now.Add(h.cfg.RequestLifetime),
	}
	return pr.ID, h.store.CreateAuthRequest(ctx, pr)
}

// pending loads a stored request and checks that it belongs to this
// browser. On failure it has answered with an error page.
func (h *Handler) pending(w http.ResponseWriter, r *http.Request, id string) (*storage.AuthRequest, bool) {
	pr, err := h.store.AuthRequest(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && id == "") {
		h.errorPage(w, http.StatusBadRequest, msgExpired)
		return nil, false
	}
	if err != nil {
		h.unavailable(w, "load pending request", err)
		return nil, false
	}
	if browser := h.cookie(r, browserCookie); browser == "" || hashValue(browser) != pr.BrowserHash {
		h.log.Info("pending request used from another browser", "client_id", pr.ClientID)
		h.errorPage(w, http.StatusBadRequest, msgOtherBrowser)
		return nil, false
	}
	return pr, true
}

// resume validates a stored request again, as if it had just arrived: the
// client or its registration may have changed meanwhile.
func (h *Handler) resume(ctx context.Context, pr *storage.AuthRequest) (*provider.Authorization, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/oauth2/authorize?"+pr.Query, nil)
	if err != nil {
		return nil, err
	}
	return h.p.Authorization(ctx, req)
}

// signedIn returns the signed-in user of this browser, if any, with the
// session cookie's value and the time the password was entered. A
// disabled or deleted user is not signed in.
func (h *Handler) signedIn(ctx context.Context, r *http.Request) (*storage.User, string, time.Time) {
	v := h.cookie(r, sessionCookie)
	if v == "" {
		return nil, "", time.Time{}
	}
	s, err := h.store.Session(ctx, hashValue(v))
	if err != nil {
		return nil, "", time.Time{}
	}
	u, err := h.store.User(ctx, s.UserID)
	if err != nil || u.Disabled {
		return nil, "", time.Time{}
	}
	return u, v, s.AuthTime
}

// needsLogin reports whether a pending request still needs the password:
// with prompt=login (OIDC Core §3.1.2.1, which OAuth clients use too) the
// sign-in must have happened after the request arrived.
func needsLogin(a *provider.Authorization, pr *storage.AuthRequest, authTime time.Time) bool {
	return a.HasPrompt("login") && authTime.Before(pr.CreatedAt)
}

func (h *Handler) unavailable(w http.ResponseWriter, what string, err error) {
	h.log.Error("authorization flow failed", "step", what, "err", err)
	h.errorPage(w, http.StatusServiceUnavailable, msgUnavailable)
}
