package endpoint

import (
	"net/http"

	"github.com/veil-auth/veil/internal/provider"
)

// singleParams may appear at most once in a token request (RFC 6749 §3.2);
// resource may repeat (RFC 8707 §2) and is checked by the flow.
var singleParams = []string{"grant_type", "scope", "client_id", "client_secret", "code", "redirect_uri", "code_verifier", "refresh_token"}

// token serves the token endpoint.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := checkTokenParams(r); err != nil {
		h.writeError(w, r, "token", err)
		return
	}

	f := h.p.Fosite()
	ar, err := h.p.NewAccessRequest(ctx, r)
	if err != nil {
		h.writeError(w, r, "token", err)
		return
	}
	if err := h.p.Grant(ctx, ar); err != nil {
		h.writeError(w, r, "token", err)
		return
	}
	resp, err := f.NewAccessResponse(ctx, ar)
	if err != nil {
		h.writeError(w, r, "token", err)
		return
	}
	// checkTokenParams let through exactly one of Veil's grant types.
	h.issued(r.PostForm.Get("grant_type"))
	f.WriteAccessResponse(ctx, w, ar, resp)
}

// checkTokenParams refuses what Veil does not accept before fosite sees
// the request: a missing, repeated or unsupported grant type, and fosite's
// audience parameter (Veil takes RFC 8707 resource instead).
func checkTokenParams(r *http.Request) error {
	form := r.PostForm
	for _, p := range singleParams {
		if len(form[p]) > 1 {
			return &provider.Error{Code: "invalid_request", Status: http.StatusBadRequest,
				Description: "A parameter was sent more than once."}
		}
	}
	switch form.Get("grant_type") {
	case "client_credentials", "authorization_code", "refresh_token":
	case "":
		return &provider.Error{Code: "invalid_request", Status: http.StatusBadRequest,
			Description: "The grant_type parameter is required."}
	default:
		return &provider.Error{Code: "unsupported_grant_type", Status: http.StatusBadRequest,
			Description: "The grant type is not supported."}
	}
	if form.Has("audience") {
		return &provider.Error{Code: "invalid_request", Status: http.StatusBadRequest,
			Description: "Name the resource with the resource parameter (RFC 8707), not audience."}
	}
	return nil
}

// parseForm reads a size-limited urlencoded body. Only the body counts:
// parameters in the query string are ignored by every endpoint, so secrets
// are not invited into URLs (and logs).
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		return &provider.Error{Code: "invalid_request", Status: http.StatusBadRequest,
			Description: "The request body is not a valid form or is too large.", Cause: err}
	}
	provider.DropEmpty(r.PostForm)
	return nil
}
