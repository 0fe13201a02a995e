package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/storage"
)

// consentBody is the JSON shape of a consent: what a user granted a client
// for one resource. ClientName is empty if the client no longer exists.
type consentBody struct {
	ID         string    `json:"id"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Resource   string    `json:"resource"`
	Scopes     []string  `json:"scopes"`
	Remember   bool      `json:"remember"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

var errConsentNotFound = &apiError{http.StatusNotFound, codeNotFound, "consent not found"}

// listConsents lists every consent of a user, oldest first. A user has at
// most one consent per client and resource, so the list is short and is
// not paginated.
func (h *handler) listConsents(w http.ResponseWriter, r *http.Request) error {
	u, err := h.findUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	consents, err := h.store.ListConsents(r.Context(), u.ID)
	if err != nil {
		return err
	}

	names := make(map[string]string)
	body := listBody[consentBody]{Items: make([]consentBody, 0, len(consents))}
	for _, c := range consents {
		name, err := h.clientName(r.Context(), names, c.ClientID)
		if err != nil {
			return err
		}
		body.Items = append(body.Items, consentBody{
			ID:         c.ID,
			ClientID:   c.ClientID,
			ClientName: name,
			Resource:   c.Resource,
			Scopes:     nonNil(c.Scopes),
			Remember:   c.Remember,
			CreatedAt:  c.CreatedAt,
			UpdatedAt:  c.UpdatedAt,
		})
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// clientName returns the name of a client, or "" if there is no such
// client any more, looking each client up once per request.
func (h *handler) clientName(
	ctx context.Context, names map[string]string, id string,
) (string, error) {
	if name, ok := names[id]; ok {
		return name, nil
	}
	c, err := h.store.Client(ctx, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		names[id] = ""
	case err != nil:
		return "", err
	default:
		names[id] = c.Name
	}
	return names[id], nil
}

// deleteConsent revokes one of a user's consents. The store revokes every
// code, refresh token and access token issued under it in the same step,
// so the client loses access at once rather than when its tokens expire;
// the next authorization request asks the user again.
func (h *handler) deleteConsent(w http.ResponseWriter, r *http.Request) error {
	u, err := h.findUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	id := r.PathValue("consent_id")
	if !validID(id) {
		return errConsentNotFound
	}
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ConsentRevoke, Target: audit.User(u.ID),
		Details: map[string]string{"consent_id": id}}
	if err := h.describeConsent(r.Context(), u.ID, id, e.Details); err != nil {
		return err
	}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.DeleteConsent(ctx, u.ID, id)
	})
	if err != nil {
		return notFound(err, errConsentNotFound)
	}

	h.log.InfoContext(r.Context(), "consent revoked", "user_id", u.ID, "consent_id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// describeConsent adds the client and resource of a user's consent to
// the details of its audit event, so the event says what was revoked
// after the consent is gone. A consent not found adds nothing: deleting
// it answers 404.
func (h *handler) describeConsent(ctx context.Context, userID, id string, details map[string]string) error {
	consents, err := h.store.ListConsents(ctx, userID)
	if err != nil {
		return err
	}
	for _, c := range consents {
		if c.ID == id {
			details["client_id"], details["resource"] = c.ClientID, c.Resource
		}
	}
	return nil
}
