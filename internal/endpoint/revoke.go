package endpoint

import (
	"net/http"

	"github.com/veil-auth/veil/internal/provider"
)

// revoke serves RFC 7009 revocation through fosite's handler, which checks
// that the token belongs to the authenticated client. An unknown token is
// answered 200, as §2.2 requires, so the endpoint cannot be used to test
// whether a token exists.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if len(r.PostForm["token"]) != 1 || r.PostForm.Get("token") == "" {
		// Authenticate first, so an anonymous caller gets 401 whatever it
		// sent (RFC 7009 §2.1 requires client authentication).
		if _, err := h.p.AuthenticateClient(ctx, r, r.PostForm); err != nil {
			h.writeError(w, r, "revoke", err)
			return
		}
		h.writeError(w, r, "revoke", &provider.Error{Code: "invalid_request",
			Status: http.StatusBadRequest, Description: "Exactly one token parameter is required."})
		return
	}

	if err := h.p.Fosite().NewRevocationRequest(ctx, r); err != nil {
		h.writeError(w, r, "revoke", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
