package endpoint

import (
	"net/http"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/provider"
)

// introspect serves RFC 7662 introspection. The caller must authenticate as
// a client or as a resource server.
func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	caller, err := h.p.AuthenticateClient(ctx, r, r.PostForm)
	if err == nil && caller.IsPublic() {
		// RFC 7662 §2.1: the endpoint is protected; a public client has
		// nothing to authenticate with.
		err = fosite.ErrInvalidClient
	}
	if err != nil {
		h.writeError(w, r, "introspect", err)
		return
	}

	tokens := r.PostForm["token"]
	if len(tokens) != 1 || tokens[0] == "" {
		h.writeError(w, r, "introspect", &provider.Error{Code: "invalid_request",
			Status: http.StatusBadRequest, Description: "Exactly one token parameter is required."})
		return
	}
	// token_type_hint is optional and Veil only introspects access tokens
	// here, so any hint is ignored (RFC 7662 §2.1 lets the server do so).
	answer, err := h.p.Introspect(ctx, caller, tokens[0])
	if err != nil {
		h.writeError(w, r, "introspect", err)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}
