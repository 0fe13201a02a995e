package provider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/token"
)

// errNoEncryptionKey refuses a token that must be encrypted to its resource
// server when that cannot be done. Veil never falls back to its own key
// then: the resource asked that nobody else could read its tokens.
var errNoEncryptionKey = &Error{Code: "invalid_target", Status: http.StatusBadRequest,
	Description: "The resource requires encrypted tokens but has no usable encryption key."}

// encrypters caches encrypters to resource servers' keys by the SHA-256 of
// the JWK, so that a key is parsed once, not per token.
type encrypters struct {
	m sync.Map // [32]byte -> jose.Encrypter
}

func (e *encrypters) get(jwk []byte) (jose.Encrypter, error) {
	sum := sha256.Sum256(jwk)
	if v, ok := e.m.Load(sum); ok {
		return v.(jose.Encrypter), nil
	}
	var k jose.JSONWebKey
	if err := json.Unmarshal(jwk, &k); err != nil {
		return nil, errors.Join(token.ErrUnsuitableKey, err)
	}
	enc, err := token.NewResourceEncrypter(&k)
	if err != nil {
		return nil, err
	}
	e.m.Store(sum, enc)
	return enc, nil
}

// newestKey returns the most recently added encryption key of res.
func newestKey(res *storage.Resource) (storage.ResourceKey, bool) {
	var best storage.ResourceKey
	found := false
	for _, k := range res.EncryptionKeys {
		if !found || !k.AddedAt.Before(best.AddedAt) {
			best, found = k, true
		}
	}
	return best, found
}

// tokenKeys returns the signer and encrypter for a token whose audience is
// res: the resource's signing algorithm (or Veil's default) and its newest
// encryption key, or Veil's own encryption key when it registered none.
func (p *Provider) tokenKeys(set *keys.Set, res *storage.Resource) (jose.Signer, jose.Encrypter, error) {
	alg := p.keys.Policy().Algorithms[0]
	if res.SigningAlgorithm != "" {
		alg = jose.SignatureAlgorithm(res.SigningAlgorithm)
	}
	signer, _, ok := set.Signer(alg, p.now())
	if !ok {
		p.log().Error("no signing key for the resource's algorithm", "resource", res.Identifier, "alg", alg)
		return nil, nil, &Error{Code: "server_error", Status: http.StatusInternalServerError,
			Description: descriptions["server_error"], Cause: errors.New("no signing key for " + string(alg))}
	}

	rk, ok := newestKey(res)
	if !ok {
		if res.TokenEncryptionRequired {
			p.log().Error("token refused: resource requires encryption but has no key", "resource", res.Identifier)
			return nil, nil, errNoEncryptionKey
		}
		return signer, set.Encrypter(), nil
	}
	enc, err := p.encrypters.get(rk.JWK)
	if err != nil {
		p.log().Error("token refused: resource encryption key unusable", "resource", res.Identifier, "err", err)
		return nil, nil, errNoEncryptionKey
	}
	return signer, enc, nil
}

// audienceResource returns the resource a token is for: the one the grant
// resolved in this request, or the one named by its granted audience.
func (p *Provider) audienceResource(ctx context.Context, sess *Session, audience []string) (*storage.Resource, error) {
	if sess.resource != nil {
		return sess.resource, nil
	}
	if len(audience) != 1 {
		return nil, errInvalidTarget("A token is issued for exactly one resource.")
	}
	res, err := p.resourceByIdentifier(ctx, audience[0])
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errInvalidTarget("The resource no longer exists.")
	}
	if err != nil {
		return nil, fositeError(err)
	}
	return res, nil
}
