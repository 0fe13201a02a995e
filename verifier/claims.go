package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Claims are the claims of a verified access token (RFC 9068 §2.2).
type Claims struct {
	// Issuer is iss, Veil's issuer URL.
	Issuer string
	// Subject is sub: the user's stable ID, or the client's ID for the
	// client credentials grant.
	Subject string
	// Audience is aud, the resource servers the token is for.
	Audience []string
	// ExpiresAt is exp. It may be zero for an introspected token whose
	// answer carried none.
	ExpiresAt time.Time
	// IssuedAt is iat.
	IssuedAt time.Time
	// NotBefore is nbf, zero when the token has none.
	NotBefore time.Time
	// ID is jti, unique per token.
	ID string
	// ClientID is client_id, the client the token was issued to.
	ClientID string
	// Scopes are the space-separated values of scope.
	Scopes []string
	// Raw is the JSON object the claims were read from: the verified
	// payload of the JWS, or Veil's introspection answer. It holds every
	// member, including those not named above.
	Raw json.RawMessage
}

// HasScope reports whether the token carries scope.
func (c *Claims) HasScope(scope string) bool {
	return slices.Contains(c.Scopes, scope)
}

// RequireScopes returns a *ScopeError listing the scopes the token lacks,
// or nil if it carries them all.
func (c *Claims) RequireScopes(scopes ...string) error {
	var missing []string
	for _, s := range scopes {
		if !c.HasScope(s) {
			missing = append(missing, s)
		}
	}
	if missing != nil {
		return &ScopeError{Required: slices.Clone(scopes), Missing: missing}
	}
	return nil
}

// claimsOfJWT reads the payload of a verified inner JWS. RFC 9068 §2.2
// makes iss, exp, aud, sub, client_id, iat and jti required; a token
// without one of them is not a Veil access token.
func claimsOfJWT(payload []byte) (*Claims, error) {
	m, err := readMembers(payload)
	if err != nil {
		return nil, ErrInvalidToken
	}
	c, err := m.claims()
	if err != nil {
		return nil, ErrInvalidToken
	}
	if c.Issuer == "" || c.Subject == "" || len(c.Audience) == 0 || c.ExpiresAt.IsZero() ||
		c.IssuedAt.IsZero() || c.ID == "" || c.ClientID == "" {
		return nil, ErrInvalidToken
	}
	c.Raw = bytes.Clone(payload)
	return c, nil
}

// members is a JSON object read member by member. Looking members up by
// their exact name avoids encoding/json's case-insensitive matching of
// struct fields, under which "ISS" would be read as iss.
type members map[string]json.RawMessage

var errMember = errors.New("verifier: claim has the wrong type")

func readMembers(b []byte) (members, error) {
	var m members
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errMember
	}
	return m, nil
}

// claims reads the members Claims names. Absent members stay zero;
// present ones of the wrong type are an error.
func (m members) claims() (*Claims, error) {
	var c Claims
	var scope string
	err := errors.Join(
		m.text("iss", &c.Issuer),
		m.text("sub", &c.Subject),
		m.audience(&c.Audience),
		m.date("exp", &c.ExpiresAt),
		m.date("iat", &c.IssuedAt),
		m.date("nbf", &c.NotBefore),
		m.text("jti", &c.ID),
		m.text("client_id", &c.ClientID),
		m.text("scope", &scope),
	)
	if err != nil {
		return nil, err
	}
	c.Scopes = strings.Fields(scope)
	return &c, nil
}

func (m members) text(name string, dst *string) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errMember
	}
	return nil
}

// audience reads aud, a string or an array of strings (RFC 7519 §4.1.3).
func (m members) audience(dst *[]string) error {
	raw, ok := m["aud"]
	if !ok {
		return nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		*dst = []string{one}
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errMember
	}
	return nil
}

// maxDate is 9999-12-31T23:59:59Z. A NumericDate beyond it is not a date
// Veil wrote.
const maxDate = 253402300799

// date reads a NumericDate (RFC 7519 §2): seconds since the epoch, which
// may have a fraction.
func (m members) date(name string, dst *time.Time) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	// raw is valid JSON, so a string, null or object fails here, and
	// ParseFloat never sees the non-JSON forms it would accept (Inf, hex).
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f < 0 || f > maxDate {
		return errMember
	}
	sec, frac := math.Modf(f)
	*dst = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}
