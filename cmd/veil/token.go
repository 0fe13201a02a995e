package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/verifier"
)

const tokenUsage = `usage: veil token inspect [--key FILE] [--jwks URL|FILE] TOKEN

Shows the JWE header of a Veil access token. With --key, the resource
server's private key (PEM or JWK), also the inner JWS header and the claims;
with --jwks, Veil's JWKS, also whether the signature verifies. Key material
is never printed.
`

// maxJWKSBytes bounds a JWKS read by the CLI.
const maxJWKSBytes = 1 << 20

// The algorithms the CLI decrypts and verifies with: those a resource
// server accepts (see package verifier).
var (
	inspectKeyAlgs = []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES_A256KW}
	inspectEnc     = []jose.ContentEncryption{jose.A256GCM}
	inspectSigAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}
)

// errSignature makes the command fail when the signature does not verify,
// after the report is printed.
var errSignature = errors.New("the signature does not verify")

// tokenCommand runs `veil token inspect`: a debugging aid for resource
// server operators. It shows what a token says, and whether it is
// authentic, but checks no claim: that is the verifier's job.
func tokenCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "inspect" {
		fmt.Fprint(stderr, tokenUsage)
		return errors.New("usage: veil token inspect [--key FILE] [--jwks URL|FILE] TOKEN")
	}
	fs := flag.NewFlagSet("veil token inspect", flag.ContinueOnError)
	// The flag package quotes a bad argument in its message, and a
	// mistyped argument may be a key or a token: say nothing of it.
	fs.SetOutput(io.Discard)
	fs.Usage = func() { fmt.Fprint(stderr, tokenUsage) }
	keyFile := fs.String("key", "", "the resource server's private key `FILE` (PEM or JWK)")
	jwksRef := fs.String("jwks", "", "Veil's JWKS, a `URL` or a FILE")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return err
		}
		fs.Usage()
		return errors.New("invalid arguments")
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("give exactly one TOKEN")
	}

	in := &inspection{out: stdout, tok: strings.TrimSpace(fs.Arg(0))}
	if err := in.outer(); err != nil {
		return err
	}
	if in.inner == "" && *keyFile == "" {
		fmt.Fprintln(stdout, "\n(give --key FILE, the resource server's key, to read the rest)")
		return nil
	}
	if in.inner == "" {
		if err := in.decrypt(*keyFile); err != nil {
			return err
		}
	}
	if err := in.claims(); err != nil {
		return err
	}
	return in.signature(ctx, *jwksRef)
}

// inspection is one token being inspected, step by step.
type inspection struct {
	out    io.Writer
	tok    string
	header map[string]any // of the JWE
	inner  string         // the compact JWS
	jws    *jose.JSONWebSignature
}

// outer shows the JWE header, or the JWS header of an unencrypted token.
func (in *inspection) outer() error {
	parts := strings.Split(in.tok, ".")
	switch len(parts) {
	case 5:
	case 3:
		fmt.Fprintln(in.out, "The token is NOT encrypted: a bare JWS, which resource servers refuse.")
		in.inner = in.tok
		return nil
	default:
		return fmt.Errorf("not a compact JWE or JWS: %d dot-separated parts", len(parts))
	}
	h, err := decodeHeader(parts[0])
	if err != nil {
		return fmt.Errorf("read JWE header: %w", err)
	}
	in.header = h
	return in.show("JWE header", h)
}

// decrypt opens the JWE with the key the header's kid names.
func (in *inspection) decrypt(keyFile string) error {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("read the key file: %w", withoutPath(err))
	}
	keys, err := verifier.ParsePrivateKeys(data)
	if err != nil {
		return fmt.Errorf("read the key file: %w", err)
	}
	key, err := in.pickKey(keys, keyFile)
	if err != nil {
		return err
	}
	alg, _ := in.header["alg"].(string)
	if !slices.Contains(inspectKeyAlgs, jose.KeyAlgorithm(alg)) {
		return fmt.Errorf("alg %q: only RSA-OAEP-256 and ECDH-ES+A256KW tokens, encrypted to "+
			"a resource server's key, open with --key; A256KW tokens are encrypted to Veil's own key", alg)
	}
	if _, ok := in.header["zip"]; ok {
		return errors.New("the token is compressed (zip), which Veil never does: refused")
	}

	jwe, err := jose.ParseEncryptedCompact(in.tok, inspectKeyAlgs, inspectEnc)
	if err != nil {
		return fmt.Errorf("parse JWE: %w", err)
	}
	plain, err := jwe.Decrypt(key.Key)
	if err != nil {
		return errors.New("cannot decrypt the token with the key in the key file")
	}
	in.inner = string(plain)
	return nil
}

// pickKey chooses the key by kid. A file of one key is used even under
// another kid, with a note: the operator named it.
func (in *inspection) pickKey(keys []jose.JSONWebKey, keyFile string) (jose.JSONWebKey, error) {
	kid, _ := in.header["kid"].(string)
	var kids []string
	for _, k := range keys {
		if k.KeyID == kid {
			return k, nil
		}
		kids = append(kids, k.KeyID)
	}
	if len(keys) == 1 {
		fmt.Fprintf(in.out, "\nnote: the token names kid %q, the key in %s has kid %q; "+
			"trying it anyway\n", kid, keyFile, keys[0].KeyID)
		return keys[0], nil
	}
	err := fmt.Errorf("no key in the key file has kid %q (it has %s)", kid, strings.Join(kids, ", "))
	return jose.JSONWebKey{}, err
}

// claims shows the JWS header and the claims, unverified.
func (in *inspection) claims() error {
	jws, err := jose.ParseSignedCompact(in.inner, inspectSigAlgs)
	if err != nil {
		return fmt.Errorf("the payload is not a JWS Veil would sign: %w", err)
	}
	in.jws = jws
	h, err := decodeHeader(strings.SplitN(in.inner, ".", 2)[0])
	if err != nil {
		return fmt.Errorf("read JWS header: %w", err)
	}
	if err := in.show("JWS header", h); err != nil {
		return err
	}

	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(jws.UnsafePayloadWithoutVerification()))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return fmt.Errorf("the claims are not a JSON object: %w", err)
	}
	if err := in.show("Claims (not yet verified)", claims); err != nil {
		return err
	}
	for _, name := range []string{"iat", "nbf", "exp"} {
		if n, ok := claims[name].(json.Number); ok {
			if secs, err := n.Int64(); err == nil {
				fmt.Fprintf(in.out, "%s: %s\n", name, time.Unix(secs, 0).UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// signature verifies the JWS against the JWKS, when one was given.
func (in *inspection) signature(ctx context.Context, ref string) error {
	if ref == "" {
		fmt.Fprintln(in.out, "\nsignature: not checked (give --jwks URL|FILE)")
		return nil
	}
	set, err := readJWKS(ctx, ref)
	if err != nil {
		return err
	}
	h := in.jws.Signatures[0].Protected
	keys := set.Key(h.KeyID)
	if h.KeyID == "" || len(keys) != 1 {
		fmt.Fprintf(in.out, "\nsignature: INVALID: the JWKS has no key with kid %q\n", h.KeyID)
		return errSignature
	}
	if keys[0].Algorithm != h.Algorithm {
		fmt.Fprintf(in.out, "\nsignature: INVALID: kid %q is a %s key, the token says %s\n",
			h.KeyID, keys[0].Algorithm, h.Algorithm)
		return errSignature
	}
	if _, err := in.jws.Verify(keys[0].Public().Key); err != nil {
		fmt.Fprintf(in.out, "\nsignature: INVALID (kid %q, %s)\n", h.KeyID, h.Algorithm)
		return errSignature
	}
	fmt.Fprintf(in.out, "\nsignature: valid (kid %q, %s)\n", h.KeyID, h.Algorithm)
	return nil
}

func (in *inspection) show(title string, v map[string]any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("show %s: %w", title, err)
	}
	fmt.Fprintf(in.out, "\n%s:\n%s\n", title, b)
	return nil
}

// decodeHeader reads a JOSE header. Keys in it (epk, jwk) are cut down to
// their type, curve and kid: what they are, never their material.
func decodeHeader(part string) (map[string]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil || h == nil {
		return nil, errors.New("not a JSON object")
	}
	for _, name := range []string{"epk", "jwk"} {
		if _, ok := h[name]; !ok {
			continue
		}
		desc := "key"
		if k, ok := h[name].(map[string]any); ok {
			for _, member := range []string{"crv", "kty"} {
				if v, ok := k[member].(string); ok {
					desc = v + " " + desc
				}
			}
		}
		h[name] = desc + " (not shown)"
	}
	return h, nil
}

// readJWKS reads a JWK set from an http(s) URL or a file.
func readJWKS(ctx context.Context, ref string) (*jose.JSONWebKeySet, error) {
	var data []byte
	if strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch JWKS: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch JWKS: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetch JWKS: status %d", resp.StatusCode)
		}
		if data, err = io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes)); err != nil {
			return nil, fmt.Errorf("fetch JWKS: %w", err)
		}
	} else {
		var err error
		if data, err = os.ReadFile(ref); err != nil {
			return nil, fmt.Errorf("read the JWKS file: %w", withoutPath(err))
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("read the JWKS: %w", err)
	}
	return &set, nil
}

// withoutPath drops the file name from a file error: the "path" may be a
// key or a token pasted in its place, which must not be printed.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
