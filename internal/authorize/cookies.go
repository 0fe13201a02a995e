package authorize

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// The cookies Veil sets. With Secure cookies they carry the __Host- prefix,
// which makes the browser refuse them unless they are Secure, host-only and
// scoped to "/", so a sibling subdomain cannot plant one.
const (
	// browserCookie binds pending requests to the browser that started
	// them. It is not a credential.
	browserCookie = "veil_browser"
	// sessionCookie is the sign-in credential.
	sessionCookie = "veil_session"
)

func (h *Handler) cookieName(base string) string {
	if h.cfg.SecureCookies {
		return "__Host-" + base
	}
	return base
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     h.cookieName(name),
		Value:    value,
		Path:     "/",
		Secure:   h.cfg.SecureCookies,
		HttpOnly: true,
		// Lax keeps the cookie off cross-site POSTs while letting it ride
		// along when a client's link brings the user to Veil.
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}

func (h *Handler) cookie(r *http.Request, name string) string {
	c, err := r.Cookie(h.cookieName(name))
	if err != nil {
		return ""
	}
	return c.Value
}

// browser returns the browser cookie's value, setting a new one if the
// request has none.
func (h *Handler) browser(w http.ResponseWriter, r *http.Request) string {
	if v := h.cookie(r, browserCookie); len(v) >= 43 {
		return v
	}
	v := randomToken()
	h.setCookie(w, browserCookie, v, 0)
	return v
}

// csrfToken binds a form to a cookie value and a pending request.
func (h *Handler) csrfToken(purpose, cookieValue, requestID string) string {
	m := hmac.New(sha256.New, h.csrf)
	m.Write([]byte(purpose + "\x00" + cookieValue + "\x00" + requestID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) checkCSRF(purpose, cookieValue, requestID, got string) bool {
	if cookieValue == "" || got == "" {
		return false
	}
	want := h.csrfToken(purpose, cookieValue, requestID)
	return hmac.Equal([]byte(want), []byte(got))
}

// hashValue is how a cookie value is kept in storage: its SHA-256, so a
// copy of the database holds no usable cookie.
func hashValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
