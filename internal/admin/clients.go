package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// clientBody is the JSON shape of a client, in the member names of
// RFC 7591 §3.2.1. ClientSecret is set only in the responses that create or
// rotate it. Secrets never expire, so client_secret_expires_at is always 0.
type clientBody struct {
	ClientID                string    `json:"client_id"`
	ClientSecret            string    `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64     `json:"client_id_issued_at"`
	ClientSecretExpiresAt   int64     `json:"client_secret_expires_at"`
	ClientName              string    `json:"client_name"`
	GrantTypes              []string  `json:"grant_types"`
	RedirectURIs            []string  `json:"redirect_uris"`
	Scope                   string    `json:"scope"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method"`
	Resources               []string  `json:"resources"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

func showClient(c *storage.Client) clientBody {
	return clientBody{
		ClientID:                c.ID,
		ClientIDIssuedAt:        c.CreatedAt.Unix(),
		ClientName:              c.Name,
		GrantTypes:              nonNil(c.GrantTypes),
		RedirectURIs:            nonNil(c.RedirectURIs),
		Scope:                   strings.Join(c.Scopes, " "),
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		Resources:               nonNil(c.Resources),
		CreatedAt:               c.CreatedAt,
		UpdatedAt:               c.UpdatedAt,
	}
}

var (
	errResourceGone = invalidMetadata("resources names a resource that no longer exists")
	errPublicSecret = invalidRequest("a client with token_endpoint_auth_method none has no secret")
	errPublicSwitch = invalidMetadata("token_endpoint_auth_method cannot change " +
		"to or from none; register a new client")
)

func (h *handler) createClient(w http.ResponseWriter, r *http.Request) error {
	var req clientRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := h.checkClient(r.Context(), &req)
	if err != nil {
		return err
	}

	c.ID, c.Kind = secret.NewID(), storage.KindClient
	var clientSecret string
	if c.TokenEndpointAuthMethod != methodNone {
		if clientSecret, c.SecretHash, err = h.newSecret(r.Context()); err != nil {
			return err
		}
	}
	// A resource deleted since checkClient looked makes the store refuse.
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ClientCreate, Target: audit.Client(c.ID),
		Details: map[string]string{"token_endpoint_auth_method": c.TokenEndpointAuthMethod}}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.CreateClient(ctx, c)
	})
	if err != nil {
		return notFound(err, errResourceGone)
	}

	h.log.InfoContext(r.Context(), "client created", "client_id", c.ID)
	body := showClient(c)
	body.ClientSecret = clientSecret
	w.Header().Set("Location", "/admin/clients/"+c.ID)
	writeJSON(w, http.StatusCreated, body)
	return nil
}

func (h *handler) listClients(w http.ResponseWriter, r *http.Request) error {
	p, err := h.readPage(r, pageClients)
	if err != nil {
		return err
	}
	items, err := h.store.ListClients(r.Context(), storage.KindClient, p.after, p.limit+1)
	if err != nil {
		return err
	}

	id := func(c *storage.Client) string { return c.ID }
	writeJSON(w, http.StatusOK, newList(h, pageClients, p, items, id, showClient))
	return nil
}

func (h *handler) getClient(w http.ResponseWriter, r *http.Request) error {
	c, err := h.findClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, showClient(c))
	return nil
}

// updateClient replaces a client's metadata. The secret stays as it is,
// which is why a client cannot move between public and confidential here:
// a public client has no secret to keep, and a confidential one would keep
// a secret it no longer uses.
func (h *handler) updateClient(w http.ResponseWriter, r *http.Request) error {
	old, err := h.findClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var req clientRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := h.checkClient(r.Context(), &req)
	if err != nil {
		return err
	}
	if (old.TokenEndpointAuthMethod == methodNone) != (c.TokenEndpointAuthMethod == methodNone) {
		return errPublicSwitch
	}

	c.ID, c.Kind = old.ID, old.Kind
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ClientUpdate, Target: audit.Client(c.ID)}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.UpdateClient(ctx, c)
	})
	if errors.Is(err, storage.ErrNotFound) {
		// Either the client or one of its resources went away meanwhile.
		if _, err := h.findClient(r.Context(), c.ID); err != nil {
			return err
		}
		return errResourceGone
	}
	if err != nil {
		return err
	}

	h.log.InfoContext(r.Context(), "client updated", "client_id", c.ID)
	writeJSON(w, http.StatusOK, showClient(c))
	return nil
}

func (h *handler) deleteClient(w http.ResponseWriter, r *http.Request) error {
	c, err := h.findClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ClientDelete, Target: audit.Client(c.ID)}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.DeleteClient(ctx, c.ID)
	})
	if err != nil {
		return notFound(err, errClientNotFound)
	}

	h.log.InfoContext(r.Context(), "client deleted", "client_id", c.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateClientSecret replaces a confidential client's secret. The old
// secret stops working at once; there is no overlap period.
func (h *handler) rotateClientSecret(w http.ResponseWriter, r *http.Request) error {
	c, err := h.findClient(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if c.TokenEndpointAuthMethod == methodNone {
		return errPublicSecret
	}

	clientSecret, hash, err := h.newSecret(r.Context())
	if err != nil {
		return err
	}
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ClientRotateSecret, Target: audit.Client(c.ID)}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.SetClientSecret(ctx, c.ID, hash)
	})
	if err != nil {
		return notFound(err, errClientNotFound)
	}

	h.log.InfoContext(r.Context(), "client secret rotated", "client_id", c.ID)
	body := showClient(c)
	body.ClientSecret = clientSecret
	writeJSON(w, http.StatusOK, body)
	return nil
}

// findClient returns the client of KindClient with the given ID, or the
// 404 error. A resource server's credentials are not a client here: they
// are managed, and rotated, through their resource.
func (h *handler) findClient(ctx context.Context, id string) (*storage.Client, error) {
	if !validID(id) {
		return nil, errClientNotFound
	}
	c, err := h.store.Client(ctx, id)
	if err != nil {
		return nil, notFound(err, errClientNotFound)
	}
	if c.Kind != storage.KindClient {
		return nil, errClientNotFound
	}
	return c, nil
}

// newSecret draws a client secret and returns it with its hash.
func (h *handler) newSecret(ctx context.Context) (string, []byte, error) {
	s := secret.New()
	hash, err := h.hasher.Hash(ctx, []byte(s))
	if err != nil {
		return "", nil, fmt.Errorf("hash client secret: %w", err)
	}
	return s, hash, nil
}

// validID reports whether id could be an ID Veil issued: 1 to 128 URL-safe
// characters. Anything else is answered 404 without asking the store.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}
