package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// CanonicalJWK returns jwk as a Store keeps it: the same JSON value,
// encoded by encoding/json without HTML escaping (no insignificant space,
// members sorted by name, a duplicate member reduced to its last value,
// numbers as float64 renders them). ErrInvalid (wrapped) if jwk is not a
// JSON object in valid UTF-8, or if a name or string in it holds U+0000
// (written \u0000), which PostgreSQL's jsonb refuses.
//
// Both backends store and return this form, so that a key reads back the
// same whichever runs: PostgreSQL would return the value in jsonb's own
// layout, the memory backend the caller's bytes.
func CanonicalJWK(jwk []byte) ([]byte, error) {
	if !utf8.Valid(jwk) {
		return nil, fmt.Errorf("parse jwk: %w", ErrInvalid)
	}
	var v map[string]any
	if err := json.Unmarshal(jwk, &v); err != nil || v == nil {
		return nil, fmt.Errorf("parse jwk: %w", ErrInvalid)
	}
	if !validJSONText(v) {
		return nil, fmt.Errorf("parse jwk: %w", ErrInvalid)
	}

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode jwk: %w", ErrInvalid)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// validJSONText reports whether every name and string in a decoded JSON
// value is valid text.
func validJSONText(v any) bool {
	switch v := v.(type) {
	case string:
		return ValidText(v)
	case []any:
		for _, e := range v {
			if !validJSONText(e) {
				return false
			}
		}
	case map[string]any:
		for name, e := range v {
			if !ValidText(name) || !validJSONText(e) {
				return false
			}
		}
	}
	return true
}

// CanonicalKeys returns a copy of keys as a Store keeps them: each JWK in
// canonical form (see CanonicalJWK) and each AddedAt in UTC. ErrInvalid
// (wrapped) if a JWK is not a JSON object, or an AddedAt lies outside the
// years 0 to 9999, which a JSON timestamp cannot hold. It returns nil for
// no keys.
func CanonicalKeys(keys []ResourceKey) ([]ResourceKey, error) {
	if len(keys) == 0 {
		return nil, nil
	}

	out := make([]ResourceKey, len(keys))
	for i, k := range keys {
		jwk, err := CanonicalJWK(k.JWK)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d: %w", i, err)
		}
		if y := k.AddedAt.UTC().Year(); y < 0 || y > 9999 {
			return nil, fmt.Errorf("encryption key %d: added at: %w", i, ErrInvalid)
		}
		out[i] = ResourceKey{JWK: jwk, AddedAt: k.AddedAt.UTC()}
	}
	return out, nil
}
