package storage

import (
	"strings"
	"unicode/utf8"
)

// ValidText reports whether every one of s can be stored: it is valid UTF-8
// and holds no NUL character (U+0000). PostgreSQL's text type refuses
// both, with an error that says nothing about the caller's mistake, so
// every backend refuses them at its boundary instead (see Store).
func ValidText(s ...string) bool {
	for _, v := range s {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return false
		}
	}
	return true
}

// ValidText reports whether every string a Store writes of c is valid
// text.
func (c *Client) ValidText() bool {
	return ValidText(c.ID, string(c.Kind), c.Name, c.TokenEndpointAuthMethod) &&
		ValidText(c.GrantTypes...) && ValidText(c.RedirectURIs...) &&
		ValidText(c.Scopes...) && ValidText(c.Resources...)
}

// ValidText reports whether every string a Store writes of r is valid
// text. ClientID is not one: the Store sets it.
func (r *Resource) ValidText() bool {
	return ValidText(r.ID, r.Identifier, r.Name, r.SigningAlgorithm) && ValidText(r.Scopes...)
}

// ValidText reports whether every string of k is valid text.
func (k *Key) ValidText() bool {
	return ValidText(k.ID, string(k.Use), k.Algorithm)
}

// ValidText reports whether every string of t is valid text.
func (t *AccessToken) ValidText() bool {
	return ValidText(t.Signature, t.JTI, t.RequestID, t.ClientID, t.Subject, t.ConsentID) &&
		ValidText(t.Audience...) && ValidText(t.Scopes...)
}

// ValidText reports whether every string of u is valid text.
func (u *User) ValidText() bool {
	return ValidText(u.ID, u.Username, u.Email, u.PasswordHash)
}

// ValidText reports whether every string of s is valid text.
func (s *Session) ValidText() bool {
	return ValidText(s.ID, s.UserID)
}

// ValidText reports whether every string of r is valid text.
func (r *AuthRequest) ValidText() bool {
	return ValidText(r.ID, r.BrowserHash, r.ClientID, r.Query)
}

// ValidText reports whether every string of c is valid text.
func (c *Consent) ValidText() bool {
	return ValidText(c.ID, c.UserID, c.ClientID, c.Resource) && ValidText(c.Scopes...)
}

// ValidText reports whether every string of c is valid text.
func (c *Code) ValidText() bool {
	return ValidText(c.Signature, c.RequestID, c.ClientID, c.UserID, c.ConsentID)
}

// ValidText reports whether every string of t is valid text.
func (t *RefreshToken) ValidText() bool {
	return ValidText(t.Signature, t.RequestID, t.AccessSignature, t.ClientID, t.UserID,
		t.ConsentID)
}
