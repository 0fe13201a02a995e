package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/storage"
)

// KeyAdmin rotates Veil's own keys. *keys.Manager satisfies it; the admin
// API declares only what it calls.
type KeyAdmin interface {
	// Rotate runs one rotation step; force starts a rotation of the signing
	// keys now rather than when one is due.
	Rotate(ctx context.Context, force bool) error
	// Now is the time by the clock the keys are activated and retired by.
	Now() time.Time
}

var errNoKeyAdmin = &apiError{http.StatusServiceUnavailable, codeUnavailable,
	"key rotation is not available on this server"}

// keyBody is the JSON shape of one of Veil's keys. It has no member for key
// material of any kind: the public signing keys are in the JWKS, and the
// sealed private keys never leave storage.
type keyBody struct {
	ID          string     `json:"kid"`
	Use         string     `json:"use"`
	Algorithm   string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt time.Time  `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
}

func showKey(k *storage.Key, now time.Time) keyBody {
	body := keyBody{
		ID:          k.ID,
		Use:         string(k.Use),
		Algorithm:   k.Algorithm,
		State:       keyState(k, now),
		CreatedAt:   k.CreatedAt,
		ActivatedAt: k.ActivatedAt,
	}
	if !k.RetiredAt.IsZero() {
		body.RetiredAt = &k.RetiredAt
	}
	return body
}

// The states of a key, as GET /admin/keys shows them.
const (
	stateNext    = "next"
	stateActive  = "active"
	stateRetired = "retired"
)

// keyState tells a key's state at now from its dates, by the rule the key
// manager follows (keys.State): next until it activates, retired from
// RetiredAt on, active in between.
func keyState(k *storage.Key, now time.Time) string {
	switch {
	case k.ActivatedAt.After(now):
		return stateNext
	case !k.RetiredAt.IsZero() && !now.Before(k.RetiredAt):
		return stateRetired
	}
	return stateActive
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request) error {
	if r.URL.RawQuery != "" {
		return invalidRequest("this route takes no query parameters")
	}
	body, err := h.keyList(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// rotateKeys starts a rotation of Veil's signing keys at once: each gets a
// successor that is published now and signs once the pre-publication time
// has passed (see keys.Plan). If a successor is already waiting, nothing
// changes. The answer lists the keys afterwards.
func (h *handler) rotateKeys(w http.ResponseWriter, r *http.Request) error {
	if h.keys == nil {
		return errNoKeyAdmin
	}
	// The key manager records the rotation in the audit log, naming the
	// actor the context carries, and logs each key it creates or retires;
	// this line says who asked.
	if err := h.keys.Rotate(audit.WithActor(r.Context(), audit.ActorAdmin), true); err != nil {
		return err
	}
	h.log.InfoContext(r.Context(), "keys rotated", "by", "admin api")

	body, err := h.keyList(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// keyList lists every stored key, oldest first.
func (h *handler) keyList(ctx context.Context) (listBody[keyBody], error) {
	stored, err := h.store.Keys(ctx)
	if err != nil {
		return listBody[keyBody]{}, err
	}

	now := h.now()
	body := listBody[keyBody]{Items: make([]keyBody, 0, len(stored))}
	for _, k := range stored {
		body.Items = append(body.Items, showKey(k, now))
	}
	return body, nil
}
