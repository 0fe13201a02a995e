package provider

import (
	"time"

	"github.com/ory/fosite"

	"github.com/veil-auth/veil/internal/storage"
)

// Session is what Veil keeps with a grant for the tokens issued under it.
type Session struct {
	// Subject is the sub claim: the user's ID, or the client ID for the
	// client credentials grant (RFC 9068 §2.2).
	Subject string `json:"sub"`
	// ExpiresAt holds the expiry of each token type of the grant.
	ExpiresAt map[fosite.TokenType]time.Time `json:"exp"`
	// UserID is the signed-in user for grants made through the login and
	// consent pages (then equal to Subject); empty for client credentials.
	UserID string `json:"uid,omitempty"`
	// ConsentID names the consent the grant was made under.
	ConsentID string `json:"cid,omitempty"`
	// JTI and IssuedAt are set by the access-token strategy when it issues
	// a token, so that storage can record them.
	JTI      string    `json:"-"`
	IssuedAt time.Time `json:"-"`

	// resource is the token's resource when this request already loaded
	// it, saving the strategy a lookup. Never stored.
	resource *storage.Resource
}

var _ fosite.Session = (*Session)(nil)

// NewSession returns an empty session.
func NewSession() *Session {
	return &Session{ExpiresAt: make(map[fosite.TokenType]time.Time)}
}

// SetExpiresAt sets the expiry of a token type.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = make(map[fosite.TokenType]time.Time)
	}
	s.ExpiresAt[key] = exp
}

// GetExpiresAt returns the expiry of a token type, or the zero time.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time {
	return s.ExpiresAt[key]
}

// GetUsername returns "": Veil puts no username in tokens.
func (s *Session) GetUsername() string { return "" }

// GetSubject returns the subject.
func (s *Session) GetSubject() string { return s.Subject }

// Clone returns a deep copy.
func (s *Session) Clone() fosite.Session {
	c := *s
	c.ExpiresAt = make(map[fosite.TokenType]time.Time, len(s.ExpiresAt))
	for k, v := range s.ExpiresAt {
		c.ExpiresAt[k] = v
	}
	return &c
}
