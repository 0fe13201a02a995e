// Package storage defines what Veil keeps: clients, resource servers, keys
// and the record of every issued access token. It declares the Store
// interface, the stored types and the sentinel errors; the backends live in
// the packages below it (postgres for production, memory for development
// mode), and storagetest holds the conformance suite both must pass.
//
// Handlers import this package only, never a backend.
//
// BUG: An access token or a consent for a resource's identifier that is
// being recorded at the moment the resource is deleted or renamed (by a
// request that read the resource just before) can be stored after
// DeleteResource or UpdateResource swept the identifier's grants, and stay
// active: neither CreateAccessToken nor SaveConsent checks that a resource
// has the identifier.
//
// BUG: A sign-in that checked a user's old password just before
// UpdateUser changed it can create its session just after, and that
// session outlives the change: CreateSession cannot tell which password
// the caller checked.
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every backend. Backends map their own failures
// (for PostgreSQL, SQLSTATE codes) onto these at the storage boundary so that
// callers can use errors.Is without knowing which backend runs.
var (
	// ErrNotFound means the item asked for does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict means a unique value (a client id, a resource identifier,
	// a key id) is already taken.
	ErrConflict = errors.New("storage: conflict")
	// ErrUnavailable means the backend could not be reached or did not
	// answer in time, or gave up on a transaction (a serialization failure
	// or a deadlock) that may succeed if tried again. Callers answer 503
	// rather than guess.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrUsed means a single-use item (an authorization code, a refresh
	// token) was already consumed or revoked. A consumed authorization
	// request is deleted, so ConsumeAuthRequest reports ErrNotFound.
	ErrUsed = errors.New("storage: already used")
	// ErrInvalid means a value cannot be stored: one of its strings is not
	// valid UTF-8 or holds a NUL character (see ValidText), or a resource's
	// encryption key is not a JSON object (see CanonicalJWK).
	ErrInvalid = errors.New("storage: invalid text")
)

// ClientKind tells a client that runs OAuth2 flows from the credentials a
// resource server uses to call introspection. Both authenticate the same way
// at the token, introspection and revocation endpoints.
type ClientKind string

// The kinds of stored client.
const (
	// KindClient is an application that obtains tokens.
	KindClient ClientKind = "client"
	// KindResource holds a resource server's introspection credentials. Such
	// a client has no grant types and can never obtain a token.
	KindResource ClientKind = "resource"
)

// Client is a registered OAuth2 client, or the credentials of a resource
// server (Kind tells which). Field names follow RFC 7591 where it has one.
type Client struct {
	// ID is the client_id, chosen by Veil at registration.
	ID string
	// Kind is KindClient or KindResource.
	Kind ClientKind
	// Name is the human-readable client_name shown on consent pages.
	Name string
	// SecretHash is the keyed hash of the client secret (see package
	// secret); nil for public clients.
	SecretHash []byte
	// GrantTypes lists the grant types the client may use.
	GrantTypes []string
	// RedirectURIs lists the exact redirect URIs registered for the client.
	RedirectURIs []string
	// Scopes lists the scopes the client may ask for.
	Scopes []string
	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post or
	// none (public client).
	TokenEndpointAuthMethod string
	// Resources lists the identifiers of the resource servers the client may
	// obtain tokens for, in registration order.
	Resources []string
	// CreatedAt and UpdatedAt are set by the backend, in UTC to the
	// microsecond, and written back into the Client passed to CreateClient,
	// UpdateClient or CreateResource.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Resource is a resource server (an API) that tokens are issued for.
type Resource struct {
	// ID is Veil's identifier for the record, used in admin URLs.
	ID string
	// Identifier is the RFC 8707 resource indicator, an absolute URI; it is
	// the aud claim of the tokens issued for this resource. Unique.
	Identifier string
	// Name is a human-readable name shown on consent pages.
	Name string
	// Scopes lists the scopes the resource understands.
	Scopes []string
	// ClientID names the KindResource client holding the resource's
	// introspection credentials. CreateResource sets it.
	ClientID string
	// EncryptionKeys are the resource server's public keys (RSA of 2048
	// bits or more, or EC P-256) that its tokens are encrypted to, so only
	// it can read them. Veil uses the newest; the resource decrypts with
	// any, which lets it rotate its key with overlap.
	EncryptionKeys []ResourceKey
	// TokenEncryptionRequired refuses to issue a token for the resource
	// unless it can be encrypted to one of EncryptionKeys.
	TokenEncryptionRequired bool
	// SigningAlgorithm is the JWS algorithm of the resource's tokens;
	// empty means Veil's default.
	SigningAlgorithm string
	// CreatedAt and UpdatedAt are set by the backend, as for Client, and
	// written back into the Resource passed to CreateResource or
	// UpdateResource.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ResourceKey is one public encryption key of a resource server.
type ResourceKey struct {
	// JWK is the public key as a JSON Web Key (RFC 7517), with its kid.
	// Storage does not interpret it, but keeps it as JSON: it must be a
	// JSON object, and a Store returns the same JSON value in canonical
	// form (see CanonicalJWK), not necessarily the same bytes.
	JWK []byte
	// AddedAt is when the key was first registered; the newest is used.
	// A Store keeps it to the nanosecond, in UTC.
	AddedAt time.Time
}

// KeyUse says what a key is for, as in the JWK "use" member.
type KeyUse string

// The key uses Veil knows.
const (
	// UseSignature keys sign the inner JWS of access tokens.
	UseSignature KeyUse = "sig"
	// UseEncryption keys wrap the content key of the outer JWE.
	UseEncryption KeyUse = "enc"
	// UseSecretHash is the HMAC key that client secrets are hashed with
	// (see package secret). It is never published and never rotated.
	UseSecretHash KeyUse = "hash"
)

// Key is one of Veil's own keys. The private part is stored only sealed
// under the master key; Sealed is opaque to storage. A key has no stored
// state: whether it is next, active or retired follows from its dates and
// the time (see keys.State), so that no replica has to flip it on time.
type Key struct {
	// ID is the kid.
	ID string
	// Use is UseSignature, UseEncryption or UseSecretHash.
	Use KeyUse
	// Algorithm is the JOSE algorithm the key is used with (ES256, A256KW).
	Algorithm string
	// Sealed is the private key material encrypted under the master key.
	Sealed []byte
	// CreatedAt is when the key was generated; a signing key is published
	// in the JWKS from then on.
	CreatedAt time.Time
	// ActivatedAt is when the key starts (or started) being used. For a
	// signing key that takes over from another it lies at least one JWKS
	// cache lifetime after CreatedAt, so no resource server meets an
	// unpublished kid; a first key is active from its creation.
	ActivatedAt time.Time
	// RetiredAt is when a newer key took (or takes) over; zero while none
	// is scheduled. A retired signing key stays published until the tokens
	// it signed have expired.
	RetiredAt time.Time
}

// AccessToken is the record Veil keeps of every access token it issues.
// The token itself is never stored: Signature is the SHA-256 of the token
// string, which is how introspection and revocation find the record even for
// tokens Veil cannot decrypt (those encrypted to a resource server's key).
type AccessToken struct {
	// Signature is the base64url SHA-256 of the token string. Unique.
	Signature string
	// JTI is the token's jti claim.
	JTI string
	// RequestID groups every token issued under one grant, so that
	// revocation can reach a whole family at once.
	RequestID string
	// ClientID is the client the token was issued to.
	ClientID string
	// Subject is the sub claim.
	Subject string
	// Audience is the aud claim.
	Audience []string
	// Scopes are the granted scopes.
	Scopes []string
	// IssuedAt and ExpiresAt are the iat and exp claims.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Revoked is set once the token, or its family, was revoked.
	Revoked bool
	// ConsentID names the user's consent the token was issued under; empty
	// for the client credentials grant.
	ConsentID string
	// ResourceID is the ID of the resource that Audience names, as the
	// issuer found it. CreateAccessToken records the token only while that
	// resource still exists under that identifier (ErrNotFound otherwise),
	// so that a token issued from a stale copy of a resource deleted or
	// renamed meanwhile is never recorded. It is not stored: records read
	// back have it empty. Empty skips the check.
	ResourceID string
}

// Store is everything Veil keeps. Every method is safe for concurrent use.
// Methods return ErrNotFound, ErrConflict or ErrUnavailable (possibly
// wrapped) for the cases those errors describe; a method that looks an item
// up by ID returns ErrNotFound when there is none.
//
// Values passed in and returned are copies: changing one afterwards never
// changes what is stored. A backend may return an empty slice where nil was
// stored, and nil where an empty slice was. IDs sort byte by byte.
//
// Every string a Store holds is valid text: valid UTF-8 without a NUL
// character (see ValidText), because PostgreSQL's text type can hold
// nothing else and both backends must behave alike. One rule covers every
// method given a string that is not:
//
//   - a method that writes (every Create and Update method, SaveConsent,
//     SetClientSecret, InitKeys, UpdateKeys and RecordLoginFailure)
//     returns ErrInvalid and stores nothing, whichever of its strings is at
//     fault, including the IDs that name the keys UpdateKeys changes;
//   - ListClients, ListResources and ListUsers return ErrInvalid for such
//     an after or kind, which bounds a listing rather than naming an item;
//   - every other method takes it for a key that no stored item has, since
//     none could have been stored: a lookup returns ErrNotFound, a delete,
//     use or deactivation returns ErrNotFound, a revocation, clearing or
//     ForgetConsent does nothing, LoginFailures counts 0, and
//     ListConsents and ListAuditEvents list nothing.
type Store interface {
	// CreateClient stores a new client. ErrConflict if the ID is taken or
	// c.Resources lists an identifier twice; ErrNotFound if one of
	// c.Resources names no resource. Nothing is stored on error.
	CreateClient(ctx context.Context, c *Client) error
	// Client returns the client with the given ID.
	Client(ctx context.Context, id string) (*Client, error)
	// ListClients returns up to limit clients of the given kind whose ID
	// sorts after the given one, in ID order. An empty after starts at the
	// first client; a limit of zero or less returns none.
	ListClients(ctx context.Context, kind ClientKind, after string, limit int) ([]*Client, error)
	// UpdateClient replaces the mutable fields of a client (everything but
	// ID, Kind, SecretHash and CreatedAt). ErrNotFound if no client has the
	// ID, and otherwise as for CreateClient.
	UpdateClient(ctx context.Context, c *Client) error
	// SetClientSecret replaces a client's secret hash.
	SetClientSecret(ctx context.Context, id string, hash []byte) error
	// DeleteClient removes a client of KindClient; ErrNotFound if there is
	// none with the ID (a resource's credentials go with DeleteResource).
	// The records of the access tokens issued to it are deleted with it, so
	// AccessToken no longer finds them and they stop being active.
	DeleteClient(ctx context.Context, id string) error

	// CreateResource stores a resource and its credentials client together,
	// in one transaction: nothing is stored on error. It sets r.ClientID to
	// credentials.ID, and r.EncryptionKeys to the keys as stored (see
	// ResourceKey). credentials must be of KindResource. ErrConflict if
	// the identifier, the resource ID or the client ID is taken.
	CreateResource(ctx context.Context, r *Resource, credentials *Client) error
	// Resource returns the resource with the given ID.
	Resource(ctx context.Context, id string) (*Resource, error)
	// ResourceByIdentifier returns the resource with the given identifier.
	ResourceByIdentifier(ctx context.Context, identifier string) (*Resource, error)
	// ResourceByClient returns the resource whose credentials client has
	// the given ID.
	ResourceByClient(ctx context.Context, clientID string) (*Resource, error)
	// ListResources returns up to limit resources whose ID sorts after the
	// given one, in ID order.
	ListResources(ctx context.Context, after string, limit int) ([]*Resource, error)
	// UpdateResource replaces Identifier, Name, Scopes, EncryptionKeys,
	// TokenEncryptionRequired and SigningAlgorithm. ErrConflict if the new
	// identifier is taken. Clients refer to the resource, not to
	// the string: a new identifier replaces the old one in every client's
	// Resources.
	//
	// A new identifier is a new audience, so the grants made for the old
	// one end in the same transaction, as DeleteResource ends them:
	// otherwise a resource registered later under the old identifier would
	// find them active.
	UpdateResource(ctx context.Context, r *Resource) error
	// DeleteResource removes a resource, its credentials client, and the
	// resource from every client's Resources. ErrNotFound if there is none
	// with the ID.
	//
	// In the same transaction it ends every grant made for the resource's
	// identifier, so that a resource registered later under the same
	// identifier inherits none: every access token whose Audience holds
	// the identifier is revoked, and every consent whose Resource is the
	// identifier is deleted, with the codes, refresh tokens and access
	// tokens issued under it (as DeleteConsent does). Tokens are matched by
	// exact string, as RFC 8707 compares resource indicators (see the BUG
	// note in the package doc).
	DeleteResource(ctx context.Context, id string) error

	// Keys returns every stored key, oldest (by CreatedAt, then ID) first.
	Keys(ctx context.Context) ([]*Key, error)
	// InitKeys makes sure Veil's first keys exist exactly once, even when
	// several replicas start at the same moment: while holding a lock that
	// every replica shares, if no key is stored it stores the keys that
	// generate returns. It returns every stored key afterwards, as Keys
	// does. generate runs while the lock is held, so it must not call the
	// Store; if it fails, nothing is stored. ErrConflict if two of the
	// generated keys share an ID.
	InitKeys(ctx context.Context, generate func() ([]*Key, error)) ([]*Key, error)
	// UpdateKeys changes the stored keys as one step of every replica's
	// key rotation: while holding the lock InitKeys takes, in one
	// transaction, it reads every stored key, passes copies to fn, applies
	// the changes fn returns and returns every stored key afterwards, as
	// Keys does. Because fn sees the keys no other replica can change
	// until it is done, replicas rotating at the same moment rotate once.
	//
	// fn runs while the lock is held, so it must not call the Store. If fn
	// fails, nothing is written and its error is returned, wrapped; nil or
	// empty changes (see KeyChanges.Empty) write nothing. ErrNotFound if
	// Retire, Delete or Reseal names a key that is not stored, and
	// ErrConflict if Add holds a key whose ID is taken (by a stored key or
	// another added one); either way nothing is written.
	UpdateKeys(ctx context.Context, fn func(existing []*Key) (*KeyChanges, error)) ([]*Key, error)

	// CreateAccessToken records an issued access token. It returns only
	// once the record is durable (outside a transaction; inside one, once
	// it commits). ErrNotFound if no client has t.ClientID, or if
	// t.ConsentID is set and names no consent or a consent of a disabled
	// user; ErrConflict if the signature or the JTI is taken.
	CreateAccessToken(ctx context.Context, t *AccessToken) error
	// AccessToken returns the record with the given signature.
	AccessToken(ctx context.Context, signature string) (*AccessToken, error)
	// RevokeAccessTokens marks every token of a request ID revoked.
	// Revoking nothing is not an error.
	RevokeAccessTokens(ctx context.Context, requestID string) error

	Users
	Browsers
	Grants
	Audit
	Expiry

	// BeginTx starts a transaction and returns a context carrying it; every
	// Store method called with that context runs inside it, until Commit
	// or Rollback. fosite's handlers use this to make a token exchange
	// atomic. Called with a context that already carries a transaction,
	// it starts a savepoint within it. The memory backend applies each
	// write at once and its Rollback undoes nothing (see its package doc).
	BeginTx(ctx context.Context) (context.Context, error)
	// Commit commits the transaction carried by ctx. It is an error if ctx
	// carries none (the memory backend cannot tell, and returns nil).
	Commit(ctx context.Context) error
	// Rollback aborts the transaction carried by ctx. It is not an error
	// to roll back a committed transaction.
	Rollback(ctx context.Context) error

	// Ping reports whether the backend answers and is ready for use: a
	// PostgreSQL database must also hold the schema this build expects.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close()
}
