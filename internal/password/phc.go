package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// maxPHC bounds the length of a stored hash, checked before anything else
// is read. A hash at every maximum (64-byte salt and key, 11-digit
// parameters) is about 220 bytes long.
const maxPHC = 256

// b64 is the PHC format's base64: standard alphabet, no padding. Strict
// refuses set bits after the last byte, so each salt and key has exactly
// one encoding.
var b64 = base64.RawStdEncoding.Strict()

// decodeB64 decodes a salt or key. encoding/base64 skips CR and LF even in
// strict mode, which would give one hash many spellings, so they are
// refused first.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, ErrMalformed
	}
	return b64.DecodeString(s)
}

// hash is a parsed PHC string. SaltLen and KeyLen are the lengths of salt
// and key.
type hash struct {
	Params
	salt []byte
	key  []byte
}

// String returns h in PHC string form.
func (h hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.Memory, h.Time, h.Threads, b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parse reads a PHC string in exactly the form String writes: argon2id,
// version 19, the parameters m, t and p in that order as decimal numbers
// without sign or leading zeros, and no optional PHC fields. Whatever
// parse accepts, String writes back unchanged, so that there is one
// spelling of each hash and nothing else to reason about.
func parse(phc string) (hash, error) {
	if len(phc) > maxPHC {
		return hash{}, ErrMalformed
	}
	fields := strings.Split(phc, "$")
	if len(fields) != 6 || fields[0] != "" || !strings.HasPrefix(fields[2], "v=") {
		return hash{}, ErrMalformed
	}
	if fields[1] != "argon2id" || fields[2] != "v=19" {
		return hash{}, ErrUnsupported
	}

	var h hash
	if err := h.parseParams(fields[3]); err != nil {
		return hash{}, err
	}
	salt, err1 := decodeB64(fields[4])
	key, err2 := decodeB64(fields[5])
	if err1 != nil || err2 != nil {
		return hash{}, ErrMalformed
	}

	h.salt, h.key = salt, key
	h.SaltLen, h.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := h.Params.Validate(); err != nil {
		return hash{}, err
	}
	return h, nil
}

// parseParams reads "m=<KiB>,t=<passes>,p=<lanes>" into h.
func (h *hash) parseParams(s string) error {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return ErrMalformed
	}
	fields := []struct {
		name string
		bits int
		dst  func(uint64)
	}{
		{"m", 32, func(n uint64) { h.Memory = uint32(n) }},
		{"t", 32, func(n uint64) { h.Time = uint32(n) }},
		{"p", 8, func(n uint64) { h.Threads = uint8(n) }},
	}
	for i, f := range fields {
		value, ok := strings.CutPrefix(parts[i], f.name+"=")
		if !ok {
			return ErrMalformed
		}
		n, err := decimal(value, f.bits)
		if err != nil {
			return err
		}
		f.dst(n)
	}
	return nil
}

// decimal reads a decimal number of at most bits bits, in canonical form:
// digits only, no sign, no leading zero. A well-formed number that does not
// fit is ErrParams; anything else is ErrMalformed.
func decimal(s string, bits int) (uint64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return 0, ErrMalformed
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("read parameter %.20s: %w", s, ErrParams)
	}
	if err != nil {
		return 0, ErrMalformed
	}
	return n, nil
}
