package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/veil-auth/veil/internal/reqlog"
	"github.com/veil-auth/veil/internal/storage"
)

// The error codes the API answers with. The first three are those of
// RFC 7591 §3.2.2 and RFC 6749 §5.2; the others are Veil's own.
const (
	codeInvalidRequest = "invalid_request"
	codeClientMetadata = "invalid_client_metadata"
	codeRedirectURI    = "invalid_redirect_uri"
	codeInvalidToken   = "invalid_token"
	codeNotFound       = "not_found"
	codeConflict       = "conflict"
	codeUnavailable    = "temporarily_unavailable"
	codeServerError    = "server_error"
)

// apiError is an error with everything a client may see of it. Its
// description is a fixed text or names only Veil's own members and
// indexes: it never repeats what the caller sent.
type apiError struct {
	status      int
	code        string
	description string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.code, e.description)
}

// The fixed errors of the API.
var (
	errUnauthorized = &apiError{http.StatusUnauthorized, codeInvalidToken,
		"the admin API needs a valid bearer token"}
	errNoRoute = &apiError{http.StatusNotFound, codeNotFound, "no such route"}
	errMethod  = &apiError{http.StatusMethodNotAllowed, codeInvalidRequest,
		"method not allowed on this route"}
	errResourceNotFound = &apiError{http.StatusNotFound, codeNotFound, "resource not found"}
	errClientNotFound   = &apiError{http.StatusNotFound, codeNotFound, "client not found"}
	errUnavailable      = &apiError{http.StatusServiceUnavailable, codeUnavailable,
		"storage is unavailable, try again later"}
	errServer = &apiError{http.StatusInternalServerError, codeServerError,
		"the server could not complete the request"}
	errInvalidText = invalidRequest("a value holds a NUL character or invalid UTF-8")
)

func invalidRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, codeInvalidRequest, fmt.Sprintf(format, args...)}
}

func invalidMetadata(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, codeClientMetadata, fmt.Sprintf(format, args...)}
}

func invalidRedirect(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, codeRedirectURI, fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// serve turns a function that may fail into a handler. A failure that is
// not an apiError is an internal one: it is logged here, once, and the
// caller sees only a fixed message.
func (h *handler) serve(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.changed != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			cw := &changeWriter{ResponseWriter: w, changed: h.changed}
			defer cw.done()
			w = cw
		}
		err := fn(w, r)
		if err == nil {
			return
		}

		var ae *apiError
		switch {
		case errors.As(err, &ae):
		case errors.Is(err, storage.ErrInvalid):
			// The checks on each request refuse such text first; this
			// answers for one they missed, without blaming the server.
			ae = errInvalidText
		case errors.Is(err, storage.ErrUnavailable):
			h.log.ErrorContext(r.Context(), "storage unavailable",
				"method", r.Method, "path", r.URL.Path, "err", err)
			ae = errUnavailable
		default:
			h.log.ErrorContext(r.Context(), "admin request failed",
				"method", r.Method, "path", r.URL.Path, "err", err)
			ae = errServer
		}
		reqlog.SetError(r.Context(), ae.code)
		writeError(w, ae)
	})
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, errorBody{Error: e.code, Description: e.description})
}

// writeJSON writes v as the response body. The values written are Veil's
// own types, which always encode, so an encoding error cannot happen and
// is not checked.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// notFound returns e if err says the item does not exist, and err
// otherwise, so that handlers can write `return notFound(err, errX)`.
func notFound(err, e error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return e
	}
	return err
}

// changeWriter calls changed before the response to a change starts, so
// that a caller who has seen the answer finds caches already emptied, and
// once more at the end if nothing was written.
type changeWriter struct {
	http.ResponseWriter
	changed func()
	called  bool
}

func (w *changeWriter) done() {
	if !w.called {
		w.called = true
		w.changed()
	}
}

func (w *changeWriter) WriteHeader(status int) {
	w.done()
	w.ResponseWriter.WriteHeader(status)
}

func (w *changeWriter) Write(b []byte) (int, error) {
	w.done()
	return w.ResponseWriter.Write(b)
}
