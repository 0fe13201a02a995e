package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// userCreate is the JSON body of POST /admin/users. Password is a pointer
// so that a missing password is told apart from an empty one.
type userCreate struct {
	Username string  `json:"username"`
	Password *string `json:"password"`
	Email    string  `json:"email"`
}

// userUpdate is the JSON body of PUT /admin/users/{id}. Without Password
// the password stays as it is. Disabled must be given: if a PUT that left
// it out meant false, renaming a disabled user would quietly let them sign
// in again.
type userUpdate struct {
	Username string  `json:"username"`
	Password *string `json:"password"`
	Email    string  `json:"email"`
	Disabled *bool   `json:"disabled"`
}

// userBody is the JSON shape of a user. It has no member for the password
// or its hash: neither ever leaves Veil.
type userBody struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func showUser(u *storage.User) userBody {
	return userBody{
		ID:        u.ID,
		Username:  u.Username,
		Email:     u.Email,
		Disabled:  u.Disabled,
		CreatedAt: u.CreatedAt,
		UpdatedAt: u.UpdatedAt,
	}
}

var (
	errUserNotFound  = &apiError{http.StatusNotFound, codeNotFound, "user not found"}
	errUsernameTaken = &apiError{http.StatusConflict, codeConflict,
		"a user with this username already exists"}
	errPasswordMissing = invalidRequest("password is required")
	errDisabledMissing = invalidRequest("disabled is required")
)

// checkUser checks a username and an email address.
func checkUser(username, email string) error {
	if !validUsername(username) {
		return invalidRequest("username must be 1 to %d characters, "+
			"without spaces, control or invisible characters", maxUsername)
	}
	if !validEmail(email) {
		return invalidRequest("email must be a plain address (name@domain) "+
			"of at most %d bytes", maxEmail)
	}
	return nil
}

// hashPassword checks a new password against the policy and hashes it.
// The descriptions name the rule, never the password.
func (h *handler) hashPassword(pw *string) (string, error) {
	if pw == nil {
		return "", errPasswordMissing
	}
	switch err := password.Validate(*pw); {
	case errors.Is(err, password.ErrTooShort):
		return "", invalidRequest("password must be at least %d characters", password.MinLength)
	case err != nil:
		return "", invalidRequest("password must be at most %d bytes", password.MaxBytes)
	}

	hash, err := password.Hash(*pw, h.passwords)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userCreate
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := checkUser(req.Username, req.Email); err != nil {
		return err
	}
	hash, err := h.hashPassword(req.Password)
	if err != nil {
		return err
	}

	u := &storage.User{
		ID: secret.NewID(), Username: req.Username, Email: req.Email, PasswordHash: hash,
	}
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.UserCreate, Target: audit.User(u.ID),
		Details: map[string]string{"username": u.Username}}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.CreateUser(ctx, u)
	})
	if errors.Is(err, storage.ErrConflict) {
		return errUsernameTaken
	}
	if err != nil {
		return err
	}

	h.log.InfoContext(r.Context(), "user created", "user_id", u.ID, "username", u.Username)
	w.Header().Set("Location", "/admin/users/"+u.ID)
	writeJSON(w, http.StatusCreated, showUser(u))
	return nil
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := h.readPage(r, pageUsers)
	if err != nil {
		return err
	}
	items, err := h.store.ListUsers(r.Context(), p.after, p.limit+1)
	if err != nil {
		return err
	}

	id := func(u *storage.User) string { return u.ID }
	writeJSON(w, http.StatusOK, newList(h, pageUsers, p, items, id, showUser))
	return nil
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.findUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, showUser(u))
	return nil
}

// updateUser replaces a user's username, email and disabled flag, and the
// password if one is given. Disabling a user ends their sessions and
// revokes their tokens (see storage.Users.UpdateUser).
func (h *handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	old, err := h.findUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var req userUpdate
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := checkUser(req.Username, req.Email); err != nil {
		return err
	}
	if req.Disabled == nil {
		return errDisabledMissing
	}

	// Without a password the hash is left empty, which makes the store
	// keep the one it holds: writing back the hash read above would undo a
	// password set by another request in between.
	u := *old
	u.Username, u.Email, u.Disabled = req.Username, req.Email, *req.Disabled
	u.PasswordHash = ""
	if req.Password != nil {
		if u.PasswordHash, err = h.hashPassword(req.Password); err != nil {
			return err
		}
	}
	e := audit.Event{Actor: audit.ActorAdmin, Action: updateAction(old, &u), Target: audit.User(u.ID),
		Details: map[string]string{
			"username":         u.Username,
			"disabled":         strconv.FormatBool(u.Disabled),
			"password_changed": strconv.FormatBool(req.Password != nil),
		}}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.saveUser(ctx, &u)
	})
	if err != nil {
		return err
	}

	h.log.InfoContext(r.Context(), "user updated", "user_id", u.ID,
		"disabled", u.Disabled, "password_changed", req.Password != nil)
	writeJSON(w, http.StatusOK, showUser(&u))
	return nil
}

// updateAction is the audit action of an update from old to u: a PUT that
// disables or enables the user is recorded as user.disable or user.enable,
// whatever else it changes (its details say what), so that the log
// filtered by either action finds every one; other updates are
// user.update.
func updateAction(old, u *storage.User) string {
	switch {
	case !old.Disabled && u.Disabled:
		return audit.UserDisable
	case old.Disabled && !u.Disabled:
		return audit.UserEnable
	}
	return audit.UserUpdate
}

// setDisabled returns the handler of POST /admin/users/{id}/disable or
// /enable. A user already in the state asked for is left alone.
func (h *handler) setDisabled(disabled bool) func(http.ResponseWriter, *http.Request) error {
	msg, action := "user enabled", audit.UserEnable
	if disabled {
		msg, action = "user disabled", audit.UserDisable
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := h.findUser(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		if u.Disabled != disabled {
			u.Disabled, u.PasswordHash = disabled, ""
			e := audit.Event{Actor: audit.ActorAdmin, Action: action, Target: audit.User(u.ID)}
			err := h.audit.Change(r.Context(), e, func(ctx context.Context) error {
				return h.saveUser(ctx, u)
			})
			if err != nil {
				return err
			}
			h.log.InfoContext(r.Context(), msg, "user_id", u.ID)
		}
		writeJSON(w, http.StatusOK, showUser(u))
		return nil
	}
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !validID(id) {
		return errUserNotFound
	}
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.UserDelete, Target: audit.User(id)}
	err := h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.DeleteUser(ctx, id)
	})
	if err != nil {
		return notFound(err, errUserNotFound)
	}

	h.log.InfoContext(r.Context(), "user deleted", "user_id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// saveUser stores a changed user, mapping the store's errors to the API's.
// u.PasswordHash is empty unless the request sets a password, so that the
// store keeps the hash it holds (see storage.Users.UpdateUser).
func (h *handler) saveUser(ctx context.Context, u *storage.User) error {
	err := h.store.UpdateUser(ctx, u)
	if errors.Is(err, storage.ErrConflict) {
		return errUsernameTaken
	}
	return notFound(err, errUserNotFound)
}

// findUser returns the user with the given ID, or the 404 error.
func (h *handler) findUser(ctx context.Context, id string) (*storage.User, error) {
	if !validID(id) {
		return nil, errUserNotFound
	}
	u, err := h.store.User(ctx, id)
	if err != nil {
		return nil, notFound(err, errUserNotFound)
	}
	return u, nil
}
