package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// resourceRequest is the JSON body of POST and PUT /admin/resources.
type resourceRequest struct {
	Identifier string   `json:"identifier"`
	Name       string   `json:"name"`
	Scopes     []string `json:"scopes"`
}

// resourceBody is the JSON shape of a resource. ClientID and ClientSecret
// are the resource server's credentials for the introspection endpoint;
// the secret is set only in the responses that create or rotate it.
type resourceBody struct {
	ID           string    `json:"id"`
	Identifier   string    `json:"identifier"`
	Name         string    `json:"name"`
	Scopes       []string  `json:"scopes"`
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func showResource(r *storage.Resource) resourceBody {
	return resourceBody{
		ID:         r.ID,
		Identifier: r.Identifier,
		Name:       r.Name,
		Scopes:     nonNil(r.Scopes),
		ClientID:   r.ClientID,
		CreatedAt:  r.CreatedAt,
		UpdatedAt:  r.UpdatedAt,
	}
}

var errIdentifierTaken = &apiError{http.StatusConflict, codeConflict,
	"a resource with this identifier already exists"}

// check validates a resource request. Resource errors are invalid_request:
// RFC 7591's codes describe client metadata only.
func (req *resourceRequest) check() error {
	if err := checkIdentifier(req.Identifier); err != nil {
		return invalidRequest("identifier %s", err.Error())
	}
	if !validName(req.Name) {
		return invalidRequest("name must be at most %d characters, "+
			"without control characters", maxName)
	}
	if len(req.Scopes) == 0 || len(req.Scopes) > maxItems {
		return invalidRequest("scopes must list from 1 to %d scopes", maxItems)
	}
	for i, s := range req.Scopes {
		if !validScopeToken(s) {
			return invalidRequest("scopes[%d] is not a valid scope token (RFC 6749 §3.3)", i)
		}
	}
	if i := firstDuplicate(req.Scopes); i >= 0 {
		return invalidRequest("scopes[%d] repeats an earlier scope", i)
	}
	return nil
}

func (h *handler) createResource(w http.ResponseWriter, r *http.Request) error {
	var req resourceRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}

	// The credentials can never obtain a token: no grant types, and the
	// storage kind keeps them out of every OAuth2 flow.
	clientSecret, hash, err := h.newSecret(r.Context())
	if err != nil {
		return err
	}
	creds := &storage.Client{
		ID:                      secret.NewID(),
		Kind:                    storage.KindResource,
		Name:                    req.Name,
		SecretHash:              hash,
		TokenEndpointAuthMethod: methodBasic,
	}
	res := &storage.Resource{
		ID:         secret.NewID(),
		Identifier: req.Identifier,
		Name:       req.Name,
		Scopes:     req.Scopes,
	}
	err = h.store.CreateResource(r.Context(), res, creds)
	if errors.Is(err, storage.ErrConflict) {
		return errIdentifierTaken
	}
	if err != nil {
		return err
	}

	h.log.InfoContext(r.Context(), "resource created", "resource_id", res.ID, "client_id", creds.ID)
	body := showResource(res)
	body.ClientSecret = clientSecret
	w.Header().Set("Location", "/admin/resources/"+res.ID)
	writeJSON(w, http.StatusCreated, body)
	return nil
}

func (h *handler) listResources(w http.ResponseWriter, r *http.Request) error {
	p, err := h.readPage(r, pageResources)
	if err != nil {
		return err
	}
	items, err := h.store.ListResources(r.Context(), p.after, p.limit+1)
	if err != nil {
		return err
	}

	id := func(r *storage.Resource) string { return r.ID }
	writeJSON(w, http.StatusOK, newList(h, pageResources, p, items, id, showResource))
	return nil
}

func (h *handler) getResource(w http.ResponseWriter, r *http.Request) error {
	res, err := h.findResource(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, showResource(res))
	return nil
}

// updateResource replaces a resource's identifier, name and scopes. A new
// identifier is a new audience: tokens issued under the old one no longer
// name this resource.
func (h *handler) updateResource(w http.ResponseWriter, r *http.Request) error {
	old, err := h.findResource(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var req resourceRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}

	res := &storage.Resource{ID: old.ID, Identifier: req.Identifier, Name: req.Name, Scopes: req.Scopes}
	err = h.store.UpdateResource(r.Context(), res)
	if errors.Is(err, storage.ErrConflict) {
		return errIdentifierTaken
	}
	if err != nil {
		return notFound(err, errResourceNotFound)
	}

	h.log.InfoContext(r.Context(), "resource updated", "resource_id", res.ID)
	writeJSON(w, http.StatusOK, showResource(res))
	return nil
}

func (h *handler) deleteResource(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !validID(id) {
		return errResourceNotFound
	}
	if err := h.store.DeleteResource(r.Context(), id); err != nil {
		return notFound(err, errResourceNotFound)
	}

	h.log.InfoContext(r.Context(), "resource deleted", "resource_id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateResourceSecret replaces the secret of a resource's credentials.
// The old secret stops working at once.
func (h *handler) rotateResourceSecret(w http.ResponseWriter, r *http.Request) error {
	res, err := h.findResource(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	clientSecret, hash, err := h.newSecret(r.Context())
	if err != nil {
		return err
	}
	if err := h.store.SetClientSecret(r.Context(), res.ClientID, hash); err != nil {
		return notFound(err, errResourceNotFound)
	}

	h.log.InfoContext(r.Context(), "resource secret rotated",
		"resource_id", res.ID, "client_id", res.ClientID)
	body := showResource(res)
	body.ClientSecret = clientSecret
	writeJSON(w, http.StatusOK, body)
	return nil
}

// findResource returns the resource with the given ID, or the 404 error.
func (h *handler) findResource(ctx context.Context, id string) (*storage.Resource, error) {
	if !validID(id) {
		return nil, errResourceNotFound
	}
	res, err := h.store.Resource(ctx, id)
	if err != nil {
		return nil, notFound(err, errResourceNotFound)
	}
	return res, nil
}
