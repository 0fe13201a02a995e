package authorize

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
)

// pageHeaders are sent with every page and redirect. The CSP allows only
// Veil's own stylesheet, no script at all, no framing (clickjacking on the
// consent page), and form submissions to Veil and to formTarget: the
// browser also applies form-action to the redirect that answers a POST,
// which goes to the client.
func pageHeaders(w http.ResponseWriter, formTarget string) {
	formAction := "'self'"
	if formTarget != "" {
		formAction += " " + formTarget
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "+
		"frame-ancestors 'none'; form-action "+formAction)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
}

// origin returns the CSP source for a redirect URI: scheme://host[:port]
// for web URIs, "scheme:" for a native app's private-use scheme.
func origin(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme == "" || strings.ContainsAny(redirectURI, " ;,'") {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// pageData is what every page template gets.
type pageData struct {
	Title        string
	Message      string
	ClientName   string
	RequestID    string
	CSRF         string
	Username     string
	Resource     string
	ResourceName string
	Scopes       []string
}

func (h *Handler) render(w http.ResponseWriter, status int, page string, formTarget string, d pageData) {
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		h.log.Error("render page failed", "page", page, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("Internal error")
	}
	pageHeaders(w, formTarget)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage shows a problem that must not be redirected to the client.
func (h *Handler) errorPage(w http.ResponseWriter, status int, msg string) {
	h.render(w, status, "error", "", pageData{Title: "Something went wrong", Message: msg})
}

// seeOther redirects the browser with 303 (RFC 9110 §15.4.4), so the next
// request is a GET whatever the current one was.
func seeOther(w http.ResponseWriter, target string) {
	pageHeaders(w, "")
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

// Fixed texts of the pages. Nothing a user typed is ever shown back.
const (
	msgBadClient    = "The application sent an invalid request: the client is unknown or the redirect address is not registered for it."
	msgExpired      = "This sign-in request has expired or was already completed. Start again from the application."
	msgOtherBrowser = "This sign-in request was started in another browser. Start again from the application in this browser."
	msgUnavailable  = "Veil is temporarily unavailable. Try again in a moment."
	msgFailed       = "The username or password is incorrect."
	msgThrottled    = "Too many failed attempts. Wait a few minutes, then try again."
	msgRateLimited  = "Too many sign-in attempts in a short time. Wait a moment, then go back and try again."
	msgForm         = "The form expired. Try again."
)
