package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// resourceRequest is the JSON body of POST and PUT /admin/resources. PUT
// replaces every member, as it replaces the scopes: leaving
// encryption_keys out of a PUT removes the resource's keys.
type resourceRequest struct {
	Identifier              string          `json:"identifier"`
	Name                    string          `json:"name"`
	Scopes                  []string        `json:"scopes"`
	EncryptionKeys          json.RawMessage `json:"encryption_keys"`
	TokenEncryptionRequired bool            `json:"token_encryption_required"`
	SigningAlgorithm        string          `json:"access_token_signing_alg"`
}

// resourceBody is the JSON shape of a resource. ClientID and ClientSecret
// are the resource server's credentials for the introspection endpoint;
// the secret is set only in the responses that create or rotate it.
// EncryptionKeysAddedAt tells, by kid, when each encryption key was
// added: Veil encrypts to the one added last.
type resourceBody struct {
	ID                      string               `json:"id"`
	Identifier              string               `json:"identifier"`
	Name                    string               `json:"name"`
	Scopes                  []string             `json:"scopes"`
	EncryptionKeys          jwksBody             `json:"encryption_keys"`
	EncryptionKeysAddedAt   map[string]time.Time `json:"encryption_keys_added_at"`
	TokenEncryptionRequired bool                 `json:"token_encryption_required"`
	SigningAlgorithm        string               `json:"access_token_signing_alg"`
	ClientID                string               `json:"client_id"`
	ClientSecret            string               `json:"client_secret,omitempty"`
	CreatedAt               time.Time            `json:"created_at"`
	UpdatedAt               time.Time            `json:"updated_at"`
}

// showResource returns the JSON shape of r. It fails only if a stored
// encryption key does not read back (see showKeys).
func showResource(r *storage.Resource) (resourceBody, error) {
	keys, added, err := showKeys(r)
	if err != nil {
		return resourceBody{}, err
	}
	return resourceBody{
		ID:                      r.ID,
		Identifier:              r.Identifier,
		Name:                    r.Name,
		Scopes:                  nonNil(r.Scopes),
		EncryptionKeys:          keys,
		EncryptionKeysAddedAt:   added,
		TokenEncryptionRequired: r.TokenEncryptionRequired,
		SigningAlgorithm:        r.SigningAlgorithm,
		ClientID:                r.ClientID,
		CreatedAt:               r.CreatedAt,
		UpdatedAt:               r.UpdatedAt,
	}, nil
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
		return invalidRequest("name %s", nameRule)
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

// checkResource validates a resource request and returns the resource it
// describes, with the encryption keys of old (nil for a new resource)
// that it keeps. ID and ClientID are left to the caller.
func (h *handler) checkResource(
	req *resourceRequest, old *storage.Resource,
) (*storage.Resource, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	keys, err := parseEncryptionKeys(req.EncryptionKeys)
	if err != nil {
		return nil, err
	}
	// RFC 9068 §2.1 has every resource server support RS256, and some
	// support nothing else. A resource may ask for any algorithm Veil
	// keeps a signing key for, and nothing else, so that no token request
	// for it fails for want of a key.
	if req.SigningAlgorithm != "" && !slices.Contains(h.signingAlgs, req.SigningAlgorithm) {
		return nil, errSigningAlg
	}
	if req.TokenEncryptionRequired && len(keys) == 0 {
		return nil, errRequiredNoKey
	}

	var oldKeys []storage.ResourceKey
	if old != nil {
		oldKeys = old.EncryptionKeys
	}
	stored, err := resourceKeys(keys, oldKeys, h.now().UTC())
	if err != nil {
		return nil, err
	}
	return &storage.Resource{
		Identifier:              req.Identifier,
		Name:                    req.Name,
		Scopes:                  req.Scopes,
		EncryptionKeys:          stored,
		TokenEncryptionRequired: req.TokenEncryptionRequired,
		SigningAlgorithm:        req.SigningAlgorithm,
	}, nil
}

func (h *handler) createResource(w http.ResponseWriter, r *http.Request) error {
	var req resourceRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := h.checkResource(&req, nil)
	if err != nil {
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
	res.ID = secret.NewID()
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ResourceCreate, Target: audit.Resource(res.ID),
		Details: map[string]string{"identifier": res.Identifier, "client_id": creds.ID}}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.CreateResource(ctx, res, creds)
	})
	if errors.Is(err, storage.ErrConflict) {
		return errIdentifierTaken
	}
	if err != nil {
		return err
	}

	h.log.InfoContext(r.Context(), "resource created", "resource_id", res.ID, "client_id", creds.ID)
	body, err := showResource(res)
	if err != nil {
		return err
	}
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

	// A resource whose keys do not read back fails the whole listing, as
	// it fails GET on its own: a page with a hole would hide it.
	var bad error
	show := func(r *storage.Resource) resourceBody {
		body, err := showResource(r)
		if err != nil && bad == nil {
			bad = err
		}
		return body
	}
	id := func(r *storage.Resource) string { return r.ID }
	list := newList(h, pageResources, p, items, id, show)
	if bad != nil {
		return bad
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (h *handler) getResource(w http.ResponseWriter, r *http.Request) error {
	res, err := h.findResource(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	body, err := showResource(res)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// updateResource replaces a resource's identifier, name, scopes and token
// settings. A new identifier is a new audience: tokens issued under the
// old one no longer name this resource.
func (h *handler) updateResource(w http.ResponseWriter, r *http.Request) error {
	old, err := h.findResource(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var req resourceRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := h.checkResource(&req, old)
	if err != nil {
		return err
	}

	res.ID = old.ID
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ResourceUpdate, Target: audit.Resource(res.ID),
		Details: map[string]string{
			"identifier":      res.Identifier,
			"encryption_keys": strconv.Itoa(len(res.EncryptionKeys)),
		}}
	if res.Identifier != old.Identifier {
		e.Details["previous_identifier"] = old.Identifier
	}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.UpdateResource(ctx, res)
	})
	if errors.Is(err, storage.ErrConflict) {
		return errIdentifierTaken
	}
	if err != nil {
		return notFound(err, errResourceNotFound)
	}

	h.log.InfoContext(r.Context(), "resource updated", "resource_id", res.ID,
		"encryption_keys", len(res.EncryptionKeys))
	body, err := showResource(res)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (h *handler) deleteResource(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !validID(id) {
		return errResourceNotFound
	}
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ResourceDelete, Target: audit.Resource(id)}
	err := h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.DeleteResource(ctx, id)
	})
	if err != nil {
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
	// The answer is made before the secret changes: a secret set but
	// never shown would lock the resource server out.
	body, err := showResource(res)
	if err != nil {
		return err
	}
	clientSecret, hash, err := h.newSecret(r.Context())
	if err != nil {
		return err
	}
	// The credentials are a client of their own, so the rotation is the
	// same action as a client's.
	e := audit.Event{Actor: audit.ActorAdmin, Action: audit.ClientRotateSecret,
		Target: audit.Client(res.ClientID), Details: map[string]string{"resource_id": res.ID}}
	err = h.audit.Change(r.Context(), e, func(ctx context.Context) error {
		return h.store.SetClientSecret(ctx, res.ClientID, hash)
	})
	if err != nil {
		return notFound(err, errResourceNotFound)
	}

	h.log.InfoContext(r.Context(), "resource secret rotated",
		"resource_id", res.ID, "client_id", res.ClientID)
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
