package provider

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/storage"
)

// Error is an OAuth error that Veil raises itself, with a description
// written for the client. Descriptions never repeat request input.
type Error struct {
	// Code is the RFC 6749 §5.2 (or RFC 8707, RFC 7009) error code.
	Code string
	// Status is the HTTP status.
	Status int
	// Description is the error_description sent to the client.
	Description string
	// Cause is the internal reason, for the log only.
	Cause error
	// RetryAfter, when set, is how long the client should wait before
	// asking again, sent as the Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Description + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Description
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

func errInvalidTarget(desc string) *Error {
	return &Error{Code: "invalid_target", Status: http.StatusBadRequest, Description: desc}
}

func errInvalidScope(desc string) *Error {
	return &Error{Code: "invalid_scope", Status: http.StatusBadRequest, Description: desc}
}

func errInvalidRequest(desc string) *Error {
	return &Error{Code: "invalid_request", Status: http.StatusBadRequest, Description: desc}
}

// descriptions are the error_description texts for errors raised inside
// fosite, by code. Veil does not pass fosite's hints to clients because some
// of them quote request input.
var descriptions = map[string]string{
	"invalid_request":           "The request is malformed: a parameter is missing, repeated or invalid.",
	"invalid_client":            "Client authentication failed.",
	"invalid_grant":             "The grant is invalid, expired, revoked, or was issued to another client.",
	"unauthorized_client":       "The client is not allowed to do this.",
	"unsupported_grant_type":    "The grant type is not supported.",
	"invalid_scope":             "The requested scope is invalid or not allowed for this client.",
	"access_denied":             "The request was denied.",
	"unsupported_token_type":    "The token type is not supported.",
	"unsupported_response_type": "Only response_type=code is supported.",
	"invalid_target":            "The requested resource is invalid or not allowed for this client.",
	"temporarily_unavailable":   "The service is temporarily unavailable. Try again later.",
	"server_error":              "The server could not complete the request.",
}

// Cause returns the internal reason behind an error for the log: the
// innermost error that is not one of fosite's client-facing errors, whose
// Error method names only the error code. It never goes to a client.
func Cause(err error) string {
	var ve *Error
	if errors.As(err, &ve) {
		return ve.Error()
	}
	msg := fosite.ErrorToRFC6749Error(err).ErrorField
	var debug []string
	root := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		if rfc, ok := e.(*fosite.RFC6749Error); ok && rfc.DebugField != "" {
			debug = append(debug, rfc.DebugField)
		}
		root = e
	}
	if _, ok := root.(*fosite.RFC6749Error); !ok && root != nil {
		msg += ": " + root.Error()
	}
	if len(debug) > 0 {
		msg += " (" + strings.Join(debug, "; ") + ")"
	}
	return msg
}

// Describe returns the code, status and client-facing description of any
// error a flow returned. Unknown errors are server_error.
func Describe(err error) (code string, status int, description string) {
	var ve *Error
	if errors.As(err, &ve) {
		return ve.Code, ve.Status, ve.Description
	}
	// fosite's code and refresh flows report any storage failure as
	// server_error. When storage was out of reach the same request may
	// well succeed later, and the client is told so with the code RFC
	// 6749 §4.1.2.1 defines for it, temporarily_unavailable, rather than
	// told the server is broken.
	if errors.Is(err, storage.ErrUnavailable) {
		return "temporarily_unavailable", http.StatusServiceUnavailable, descriptions["temporarily_unavailable"]
	}
	// A code or refresh token that was consumed by a concurrent request
	// between fosite's two reads of it is a lost race, not a server fault.
	if errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) || errors.Is(err, fosite.ErrInactiveToken) {
		return "invalid_grant", http.StatusBadRequest, descriptions["invalid_grant"]
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	code, status = rfc.ErrorField, rfc.CodeField
	if code == "invalid_state" {
		// fosite's own code; RFC 6749 knows only invalid_request.
		return "invalid_request", http.StatusBadRequest,
			"The state parameter is required and must be at least 8 characters long."
	}
	desc, ok := descriptions[code]
	switch {
	case ok && status >= 400:
	case status >= 400 && status < 500:
		// A client error fosite names with a code of its own.
		code, status, desc = "invalid_request", http.StatusBadRequest, descriptions["invalid_request"]
	default:
		code, status, desc = "server_error", http.StatusInternalServerError, descriptions["server_error"]
	}
	return code, status, desc
}
