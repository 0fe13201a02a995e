package authorize

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/storage"
)

// consentPage serves GET /consent?request=ID.
func (h *Handler) consentPage(w http.ResponseWriter, r *http.Request) {
	pr, ok := h.pending(w, r, r.URL.Query().Get("request"))
	if !ok {
		return
	}
	user, session, authTime := h.signedIn(r.Context(), r)
	if user == nil {
		seeOther(w, "/login?request="+url.QueryEscape(pr.ID))
		return
	}
	a, err := h.resume(r.Context(), pr)
	if h.failed(r.Context(), w, a, err) {
		return
	}
	if needsLogin(a, pr, authTime) {
		seeOther(w, "/login?request="+url.QueryEscape(pr.ID))
		return
	}
	h.render(w, http.StatusOK, "consent", origin(a.RedirectURI), pageData{
		Title:        "Allow access?",
		ClientName:   clientName(a.Client.Name),
		RequestID:    pr.ID,
		CSRF:         h.csrfToken("consent", session, pr.ID),
		Username:     user.Username,
		Resource:     a.Resource.Identifier,
		ResourceName: resourceName(a.Resource),
		Scopes:       a.Scopes,
	})
}

// consent serves POST /consent: the user's decision. The request must come
// from the browser that started the flow (the pending request is bound to
// it), signed in (the session cookie), with the CSRF token bound to that
// session; only then is the pending request consumed, exactly once.
func (h *Handler) consent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, http.StatusBadRequest, msgForm)
		return
	}
	pr, ok := h.pending(w, r, r.PostForm.Get("request"))
	if !ok {
		return
	}
	user, session, authTime := h.signedIn(ctx, r)
	if user == nil {
		seeOther(w, "/login?request="+url.QueryEscape(pr.ID))
		return
	}
	if !h.checkCSRF("consent", session, pr.ID, r.PostForm.Get("csrf")) {
		h.log.Info("consent refused: bad csrf token", "client_id", pr.ClientID, "user_id", user.ID)
		h.errorPage(w, http.StatusBadRequest, msgForm)
		return
	}
	decision := r.PostForm.Get("decision")
	if decision != "allow" && decision != "deny" {
		h.errorPage(w, http.StatusBadRequest, msgForm)
		return
	}

	a, err := h.resume(ctx, pr)
	if h.failed(ctx, w, a, err) {
		return
	}
	if needsLogin(a, pr, authTime) {
		seeOther(w, "/login?request="+url.QueryEscape(pr.ID))
		return
	}
	if _, err := h.store.ConsumeAuthRequest(ctx, pr.ID); err != nil {
		h.errorPage(w, http.StatusBadRequest, msgExpired)
		return
	}
	if decision == "deny" {
		// A refusal also withdraws any remembered approval, so a later
		// prompt=none request is not answered silently against it.
		if err := h.store.ForgetConsent(ctx, user.ID, a.Client.ID, a.Resource.Identifier); err != nil {
			h.unavailable(w, "forget consent", err)
			return
		}
		h.log.Info("consent denied", "client_id", a.Client.ID, "user_id", user.ID)
		h.cfg.Audit.Record(ctx, audit.Event{Actor: audit.User(user.ID), Action: audit.ConsentRevoke,
			Target: audit.User(user.ID), Details: map[string]string{
				"client_id": a.Client.ID, "resource": a.Resource.Identifier, "decision": "deny",
			}})
		seeOther(w, h.p.AuthorizeErrorRedirect(ctx, a, provider.ErrAccessDenied))
		return
	}

	c := &storage.Consent{
		UserID: user.ID, ClientID: a.Client.ID, Resource: a.Resource.Identifier,
		Scopes: a.Scopes, Remember: r.PostForm.Get("remember") == "yes",
	}
	if err := h.store.SaveConsent(ctx, c); err != nil {
		h.unavailable(w, "save consent", err)
		return
	}
	h.log.Info("consent granted", "client_id", a.Client.ID, "user_id", user.ID, "consent_id", c.ID, "remember", c.Remember)
	h.cfg.Audit.Record(ctx, audit.Event{Actor: audit.User(user.ID), Action: audit.ConsentGrant,
		Target: audit.User(user.ID), Details: map[string]string{
			"consent_id": c.ID, "client_id": a.Client.ID, "resource": a.Resource.Identifier,
			"scopes": strings.Join(a.Scopes, " "), "remember": strconv.FormatBool(c.Remember),
		}})
	h.approve(w, ctx, a, user.ID, c.ID)
}

func resourceName(r *storage.Resource) string {
	if r.Name != "" {
		return r.Name
	}
	return r.Identifier
}
