package storage

import (
	"context"
	"time"
)

// User is a person who signs in on Veil's login page.
type User struct {
	// ID is the user's stable identifier, chosen by Veil; it is the sub
	// claim of the user's tokens and never changes.
	ID string
	// Username is what the user types to sign in. Unique, compared without
	// regard to case: each letter is mapped to its lower case, as Go's
	// strings.ToLower does and PostgreSQL's lower() does in a database
	// with a UTF-8 LC_CTYPE (under the "C" locale lower() maps ASCII
	// letters only). This is not full case folding: "ß" and "SS" differ.
	Username string
	// Email is optional.
	Email string
	// PasswordHash is an argon2id hash in PHC string form (package
	// password). Storage treats it as opaque. Empty in a User passed to
	// UpdateUser, it means "keep the stored hash".
	PasswordHash string
	// Disabled users cannot sign in, and their tokens stop being active.
	Disabled bool
	// CreatedAt and UpdatedAt are set by the backend and written back into
	// the User passed to CreateUser or UpdateUser.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Session is a browser signed in as a user. The cookie value itself is
// never stored, only its hash, so a copy of the database cannot be used to
// take over sessions.
type Session struct {
	// ID is the base64url SHA-256 of the session cookie value.
	ID string
	// UserID is the signed-in user.
	UserID string
	// AuthTime is when the user last entered their password.
	AuthTime time.Time
	// ExpiresAt is when the session ends.
	ExpiresAt time.Time
}

// AuthRequest is an authorization request waiting while the user signs in
// and consents. It is bound to the browser that started it.
type AuthRequest struct {
	// ID is a random identifier carried by the login and consent pages.
	ID string
	// BrowserHash is the base64url SHA-256 of the browser-binding cookie
	// of the browser that started the request.
	BrowserHash string
	// ClientID is the requesting client.
	ClientID string
	// Query is the original, validated authorization request query. It is
	// validated again when the request completes.
	Query string
	// CreatedAt and ExpiresAt bound the request's life.
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Consent is what a user granted a client for one resource. There is at
// most one per user, client and resource.
type Consent struct {
	// ID is chosen by Veil: by the caller of SaveConsent, or by
	// SaveConsent if the caller leaves it empty.
	ID string
	// UserID, ClientID and Resource (an identifier) name the grant. The
	// consent goes when the resource with that identifier is deleted or
	// renamed (see Store.DeleteResource).
	UserID   string
	ClientID string
	Resource string
	// Scopes are the scopes granted, sorted.
	Scopes []string
	// Remember means the user asked not to be asked again for these scopes.
	Remember bool
	// CreatedAt and UpdatedAt are set by the backend and written back into
	// the Consent passed to SaveConsent.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Users stores users.
type Users interface {
	// CreateUser stores a new user. ErrConflict if the ID or the username
	// is taken.
	CreateUser(ctx context.Context, u *User) error
	// User returns the user with the given ID.
	User(ctx context.Context, id string) (*User, error)
	// UserByUsername returns the user with the given username, compared
	// without regard to case.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// ListUsers returns up to limit users whose ID sorts after the given
	// one, in ID order.
	ListUsers(ctx context.Context, after string, limit int) ([]*User, error)
	// UpdateUser replaces Username, Email and Disabled, and PasswordHash
	// unless u.PasswordHash is empty: then the stored hash is kept, as it
	// is at the moment of the write, and u.PasswordHash stays empty. A
	// caller changing other fields passes an empty hash, so that it cannot
	// undo a password set since it read the user. ErrNotFound if no user
	// has the ID; ErrConflict if the new username is another user's.
	//
	// If u.PasswordHash is set and differs from the stored hash, it also
	// deletes the user's sessions, in the same transaction: a password is
	// often changed because someone else learned it, and a browser signed
	// in with the old one must not stay in. Codes and tokens stay: they were issued to
	// clients, not browsers, and withdrawing them is what disabling the
	// user or DeleteConsent is for. Storage cannot tell a new password
	// from the same one hashed under new parameters, so a rehash signs
	// the user out of their other browsers too; a session created after
	// the rehash is kept. So is one created after the change by a sign-in
	// that checked the old password just before it (see the BUG note in
	// the package doc).
	//
	// If u.Disabled, it also, in the same transaction, deletes the user's
	// sessions, marks their codes used and refresh tokens inactive, and
	// revokes every access token issued under their consents or whose
	// Subject is their ID. While a user is disabled, sessions, codes,
	// refresh tokens and access tokens under their consents cannot be
	// created for them (ErrNotFound), so none slips past the revocation.
	// Enabling the user again restores nothing.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes a user with their sessions and consents, and
	// every code and token issued to them stops being active: those issued
	// under their consents are deleted, and the other access tokens whose
	// Subject is their ID are revoked. ErrNotFound if there is no such
	// user.
	DeleteUser(ctx context.Context, id string) error
}

// Browsers stores what Veil knows about browsers: signed-in sessions and
// pending authorization requests. Whether a session or a request has
// expired is judged against the clock of the process running the Store.
type Browsers interface {
	// CreateSession stores a session. ErrConflict if the ID is taken;
	// ErrNotFound if the user is unknown or disabled.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns a session; ErrNotFound if it is unknown or expired.
	Session(ctx context.Context, id string) (*Session, error)
	// DeleteSession removes a session. Removing nothing is not an error.
	DeleteSession(ctx context.Context, id string) error

	// CreateAuthRequest stores a pending authorization request.
	// ErrConflict if the ID is taken; ErrNotFound if the client is
	// unknown.
	CreateAuthRequest(ctx context.Context, r *AuthRequest) error
	// AuthRequest returns a pending request; ErrNotFound if it is unknown
	// or expired.
	AuthRequest(ctx context.Context, id string) (*AuthRequest, error)
	// ConsumeAuthRequest deletes a pending request and returns it, in one
	// atomic step, so a request completes at most once. ErrNotFound if it
	// is unknown, expired or already consumed.
	ConsumeAuthRequest(ctx context.Context, id string) (*AuthRequest, error)

	// RecordLoginFailure counts a failed sign-in against key (an account or
	// an address) and returns the failures counted within window, this one
	// included: those recorded at a time after now - window. Older
	// failures are forgotten. Keys are compared byte by byte, so a caller
	// counting per account passes a normalised key (the user ID, or the
	// lower-cased username), else "Alice" and "ALICE" count apart.
	RecordLoginFailure(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
	// LoginFailures returns the failures counted against key within window,
	// as RecordLoginFailure does, without counting one.
	LoginFailures(ctx context.Context, key string, now time.Time, window time.Duration) (int, error)
	// ClearLoginFailures forgets the failures counted against key.
	ClearLoginFailures(ctx context.Context, key string) error
}
