package verifier

import (
	"context"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// contentEncryption is the one JWE content encryption Veil uses.
var contentEncryption = []jose.ContentEncryption{jose.A256GCM}

// local checks tokens without asking Veil about them: it decrypts the JWE
// with the resource server's key and verifies the inner JWS with Veil's
// published keys.
type local struct {
	keys             map[string]decryptionKey
	keyAlgs          []jose.KeyAlgorithm
	sigAlgs          []jose.SignatureAlgorithm
	allowUnencrypted bool
	signing          keySource
}

func newLocal(cfg *Config, keys map[string]decryptionKey, web *fetcher, disc *discovery) *local {
	l := &local{
		keys:             keys,
		keyAlgs:          cfg.KeyAlgorithms,
		sigAlgs:          cfg.SignatureAlgorithms,
		allowUnencrypted: cfg.AllowUnencrypted,
	}
	if cfg.SigningKeys != nil {
		static := staticKeys{}
		for _, k := range cfg.SigningKeys.Keys {
			if pub, ok := verificationKey(k, cfg.SignatureAlgorithms); ok {
				static[k.KeyID] = signingKey{alg: jose.SignatureAlgorithm(k.Algorithm), key: pub}
			}
		}
		l.signing = static
		return l
	}

	url := disc.jwksURL
	if cfg.JWKSURL != "" {
		url = func(context.Context) (string, error) { return cfg.JWKSURL, nil }
	}
	l.signing = &jwksCache{
		url: url, web: web, allowed: cfg.SignatureAlgorithms, now: cfg.Now,
		refresh: cfg.RefreshInterval, maxAge: cfg.MaxJWKSAge, log: cfg.Logger,
	}
	return l
}

func (l *local) check(ctx context.Context, tok string) (*Claims, error) {
	switch compactParts(tok) {
	case 5:
		inner, ok := l.decrypt(tok)
		if !ok {
			return nil, ErrInvalidToken
		}
		return l.verify(ctx, inner)
	case 3:
		// RFC 9068 §4 lets a resource server insist on encrypted tokens;
		// a bare JWS may be the inner token of a JWE someone else opened.
		if l.allowUnencrypted {
			return l.verify(ctx, tok)
		}
	}
	return nil, ErrInvalidToken
}

// decrypt opens the outer JWE with the one key its kid names and returns
// the compact JWS inside.
func (l *local) decrypt(tok string) (string, bool) {
	jwe, err := jose.ParseEncryptedCompact(tok, l.keyAlgs, contentEncryption)
	if err != nil {
		return "", false
	}
	h := jwe.Header
	// RFC 7519 §5.2: cty JWT says the payload is a nested JWT. A JWE
	// without it was not made by Veil. zip is refused before decryption,
	// so a small token cannot inflate into a large one (and compression
	// before encryption leaks the plaintext's content through its length).
	cty, _ := h.ExtraHeaders[jose.HeaderContentType].(string)
	if !strings.EqualFold(cty, "JWT") || has(h.ExtraHeaders, "zip") || has(h.ExtraHeaders, "crit") {
		return "", false
	}
	dk, ok := l.keys[h.KeyID]
	if !ok || string(dk.alg) != h.Algorithm {
		return "", false
	}

	plain, err := jwe.Decrypt(dk.key)
	if err != nil || compactParts(string(plain)) != 3 {
		return "", false
	}
	return string(plain), true
}

// verify checks the inner JWS: its type, its signature by the Veil key
// its kid names, with that key's algorithm, and then reads its claims.
func (l *local) verify(ctx context.Context, inner string) (*Claims, error) {
	jws, err := jose.ParseSignedCompact(inner, l.sigAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrInvalidToken
	}
	h := jws.Signatures[0].Protected
	// RFC 9068 §4: the typ header keeps other JWTs Veil signs (and other
	// kinds of token signed with the same key) from passing as access
	// tokens. b64 and crit would change what the signature covers.
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !isAccessTokenType(typ) || h.KeyID == "" ||
		has(h.ExtraHeaders, "crit") || has(h.ExtraHeaders, "b64") {
		return nil, ErrInvalidToken
	}

	key, err := l.signing.key(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if string(key.alg) != h.Algorithm {
		return nil, ErrInvalidToken
	}
	payload, err := jws.Verify(key.key)
	if err != nil {
		return nil, ErrInvalidToken
	}
	return claimsOfJWT(payload)
}

// isAccessTokenType accepts "at+jwt" and its full media type
// "application/at+jwt" (RFC 9068 §2.1, RFC 7515 §4.1.9), in any case.
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

func has(h map[jose.HeaderKey]any, name jose.HeaderKey) bool {
	_, ok := h[name]
	return ok
}

// compactParts returns how many dot-separated parts tok has if it has the
// shape of a compact JWS (3) or JWE (5): base64url characters and dots
// only, of bounded length. It returns 0 for anything else. It is a cheap
// filter, applied before any parsing.
func compactParts(tok string) int {
	if len(tok) == 0 || len(tok) > MaxTokenSize {
		return 0
	}
	dots := 0
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return 0
		}
	}
	if dots == 2 || dots == 4 {
		return dots + 1
	}
	return 0
}
