package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage"
)

// errCredentialsKind reports a caller's mistake that would let a resource's
// credentials run OAuth2 flows or be deleted without the resource.
var errCredentialsKind = errors.New("create resource: credentials client is not of KindResource")

const insertResourceSQL = `
INSERT INTO resources (id, identifier, name, scopes, client_id,
	encryption_keys, token_encryption_required, signing_alg)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING created_at, updated_at`

// CreateResource stores r and its credentials client in one transaction.
// It sets r.ClientID to credentials.ID, r.EncryptionKeys to the keys as
// stored, and the timestamps of both.
func (s *Store) CreateResource(
	ctx context.Context, r *storage.Resource, credentials *storage.Client,
) error {
	if credentials.Kind != storage.KindResource {
		return errCredentialsKind
	}
	if !r.ValidText() || !credentials.ValidText() {
		return fmt.Errorf("create resource: %w", storage.ErrInvalid)
	}
	keys, err := storage.CanonicalKeys(r.EncryptionKeys)
	if err != nil {
		return fmt.Errorf("create resource: %w", err)
	}

	var cCreated, cUpdated, rCreated, rUpdated time.Time
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		cCreated, cUpdated, err = insertClient(ctx, tx, credentials)
		if err != nil {
			return err
		}

		err = tx.QueryRow(ctx, insertResourceSQL, r.ID, r.Identifier, r.Name,
			notNil(r.Scopes), credentials.ID, keysJSON(keys), r.TokenEncryptionRequired,
			r.SigningAlgorithm).Scan(&rCreated, &rUpdated)
		if err != nil {
			return fmt.Errorf("insert resource: %w", mapError(err))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create resource: %w", err)
	}

	credentials.CreatedAt, credentials.UpdatedAt = cCreated, cUpdated
	r.ClientID, r.CreatedAt, r.UpdatedAt = credentials.ID, rCreated.UTC(), rUpdated.UTC()
	r.EncryptionKeys = keys
	return nil
}

const resourceColumns = `id, identifier, name, scopes, client_id, encryption_keys,
	token_encryption_required, signing_alg, created_at, updated_at`

func scanResource(row pgx.Row) (*storage.Resource, error) {
	var r storage.Resource
	var keys []resourceKeyJSON
	err := row.Scan(&r.ID, &r.Identifier, &r.Name, &r.Scopes, &r.ClientID, &keys,
		&r.TokenEncryptionRequired, &r.SigningAlgorithm, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}

	r.EncryptionKeys, err = keysFromJSON(keys)
	if err != nil {
		return nil, fmt.Errorf("resource %q: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return &r, nil
}

// resourceKeyJSON is a storage.ResourceKey as resources.encryption_keys
// holds it. The JWK is kept as a JSON object rather than as bytes, so that
// an operator reading the table sees the key; pgx encodes and decodes the
// array with encoding/json.
type resourceKeyJSON struct {
	JWK     json.RawMessage `json:"jwk"`
	AddedAt time.Time       `json:"added_at"`
}

// keysJSON returns keys, already canonical (see storage.CanonicalKeys), as
// encryption_keys holds them: never nil, which pgx would send as NULL.
func keysJSON(keys []storage.ResourceKey) []resourceKeyJSON {
	out := make([]resourceKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = resourceKeyJSON{JWK: k.JWK, AddedAt: k.AddedAt}
	}
	return out
}

// keysFromJSON returns the keys encryption_keys held. jsonb lays a JWK out
// its own way (member order, spaces), so each is made canonical again:
// the bytes are those CreateResource or UpdateResource returned.
func keysFromJSON(stored []resourceKeyJSON) ([]storage.ResourceKey, error) {
	keys := make([]storage.ResourceKey, len(stored))
	for i, k := range stored {
		keys[i] = storage.ResourceKey{JWK: k.JWK, AddedAt: k.AddedAt}
	}
	keys, err := storage.CanonicalKeys(keys)
	if err != nil {
		return nil, fmt.Errorf("read encryption keys: %w", err)
	}
	return keys, nil
}

const selectResourceSQL = `SELECT ` + resourceColumns + ` FROM resources WHERE id = $1`

// Resource returns the resource with the given ID.
func (s *Store) Resource(ctx context.Context, id string) (*storage.Resource, error) {
	if !storage.ValidText(id) {
		return nil, fmt.Errorf("get resource: %w", storage.ErrNotFound)
	}

	r, err := scanResource(s.querier(ctx).QueryRow(ctx, selectResourceSQL, id))
	if err != nil {
		return nil, fmt.Errorf("get resource: %w", mapError(err))
	}
	return r, nil
}

const selectResourceByIdentifierSQL = `SELECT ` + resourceColumns + `
FROM resources WHERE identifier = $1`

// ResourceByIdentifier returns the resource with the given identifier.
func (s *Store) ResourceByIdentifier(
	ctx context.Context, identifier string,
) (*storage.Resource, error) {
	if !storage.ValidText(identifier) {
		return nil, fmt.Errorf("get resource by identifier: %w", storage.ErrNotFound)
	}

	r, err := scanResource(s.querier(ctx).QueryRow(ctx, selectResourceByIdentifierSQL, identifier))
	if err != nil {
		return nil, fmt.Errorf("get resource by identifier: %w", mapError(err))
	}
	return r, nil
}

const selectResourceByClientSQL = `SELECT ` + resourceColumns + `
FROM resources WHERE client_id = $1`

// ResourceByClient returns the resource whose credentials client has the
// given ID.
func (s *Store) ResourceByClient(ctx context.Context, clientID string) (*storage.Resource, error) {
	if !storage.ValidText(clientID) {
		return nil, fmt.Errorf("get resource by client: %w", storage.ErrNotFound)
	}

	r, err := scanResource(s.querier(ctx).QueryRow(ctx, selectResourceByClientSQL, clientID))
	if err != nil {
		return nil, fmt.Errorf("get resource by client: %w", mapError(err))
	}
	return r, nil
}

const listResourcesSQL = `SELECT ` + resourceColumns + `
FROM resources
WHERE id > $1
ORDER BY id
LIMIT $2`

// ListResources returns up to limit resources whose ID sorts after the
// given one, in ID order.
func (s *Store) ListResources(
	ctx context.Context, after string, limit int,
) ([]*storage.Resource, error) {
	if !storage.ValidText(after) {
		return nil, fmt.Errorf("list resources: %w", storage.ErrInvalid)
	}

	if limit <= 0 {
		return nil, nil
	}

	rows, err := s.querier(ctx).Query(ctx, listResourcesSQL, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", mapError(err))
	}
	resources, err := pgx.CollectRows(rows,
		func(row pgx.CollectableRow) (*storage.Resource, error) { return scanResource(row) })
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", mapError(err))
	}
	return resources, nil
}

// lockResourceSQL reads what a resource is before it changes, and locks its
// row until the transaction ends: of two concurrent renames or deletes of
// one resource, the second waits, then reads the identifier the first left,
// so that the grants of every identifier the resource had are ended.
const lockResourceSQL = `SELECT identifier, client_id FROM resources WHERE id = $1 FOR UPDATE`

// updateResourceSQL needs no change to client_resources: those rows point at
// the resource's ID, so clients see the new identifier at once.
const updateResourceSQL = `
UPDATE resources
SET identifier = $2, name = $3, scopes = $4, encryption_keys = $5,
	token_encryption_required = $6, signing_alg = $7, updated_at = now()
WHERE id = $1
RETURNING client_id, created_at, updated_at`

// UpdateResource replaces every field but ID, ClientID and CreatedAt, and
// sets r.ClientID, r.EncryptionKeys and the timestamps to the stored
// values. A new identifier ends the grants made for the old one in the
// same transaction.
func (s *Store) UpdateResource(ctx context.Context, r *storage.Resource) error {
	if !r.ValidText() {
		return fmt.Errorf("update resource: %w", storage.ErrInvalid)
	}
	keys, err := storage.CanonicalKeys(r.EncryptionKeys)
	if err != nil {
		return fmt.Errorf("update resource: %w", err)
	}

	var clientID string
	var created, updated time.Time
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var old string
		if err := tx.QueryRow(ctx, lockResourceSQL, r.ID).Scan(&old, &clientID); err != nil {
			return fmt.Errorf("lock resource: %w", mapError(err))
		}
		err := tx.QueryRow(ctx, updateResourceSQL, r.ID, r.Identifier, r.Name,
			notNil(r.Scopes), keysJSON(keys), r.TokenEncryptionRequired,
			r.SigningAlgorithm).Scan(&clientID, &created, &updated)
		if err != nil {
			return fmt.Errorf("update resource row: %w", mapError(err))
		}

		if old == r.Identifier {
			return nil
		}
		return endGrants(ctx, tx, old)
	})
	if err != nil {
		return fmt.Errorf("update resource: %w", err)
	}

	r.ClientID, r.CreatedAt, r.UpdatedAt = clientID, created.UTC(), updated.UTC()
	r.EncryptionKeys = keys
	return nil
}

// deleteCredentialsSQL deletes a resource's credentials client; the foreign
// keys then delete the resource, its rows in client_resources (taking it
// out of every client's Resources) and the credentials' own rows.
const deleteCredentialsSQL = `DELETE FROM clients WHERE id = $1 AND kind = 'resource'`

// DeleteResource removes a resource, its credentials client, the resource
// from every client's Resources, and the grants made for its identifier,
// in one transaction.
func (s *Store) DeleteResource(ctx context.Context, id string) error {
	if !storage.ValidText(id) {
		return fmt.Errorf("delete resource: %w", storage.ErrNotFound)
	}

	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var identifier, clientID string
		if err := tx.QueryRow(ctx, lockResourceSQL, id).Scan(&identifier, &clientID); err != nil {
			return fmt.Errorf("lock resource: %w", mapError(err))
		}
		if _, err := tx.Exec(ctx, deleteCredentialsSQL, clientID); err != nil {
			return fmt.Errorf("delete credentials: %w", mapError(err))
		}
		return endGrants(ctx, tx, identifier)
	})
	if err != nil {
		return fmt.Errorf("delete resource: %w", err)
	}
	return nil
}

// revokeAudienceSQL revokes the access tokens issued for an identifier,
// whatever grant issued them. Identifiers are compared as strings, as
// RFC 8707 compares resource indicators. No index serves it (see migration
// 000003): it scans access_tokens, locking only the rows it revokes.
const revokeAudienceSQL = `
UPDATE access_tokens SET revoked = true
WHERE audience @> ARRAY[$1::text] AND NOT revoked`

// deleteResourceConsentsSQL deletes the consents given for an identifier,
// found through consents_resource_idx; the foreign keys delete every code,
// refresh token and access token issued under them in the same statement.
const deleteResourceConsentsSQL = `DELETE FROM consents WHERE resource = $1`

// endGrants ends what was granted for an identifier that no resource has
// any more, so that a resource registered later under it inherits none of
// it: a token recorded as active would otherwise introspect as active for
// the newcomer, and a remembered consent would spare a user its prompt.
func endGrants(ctx context.Context, tx pgx.Tx, identifier string) error {
	if _, err := tx.Exec(ctx, revokeAudienceSQL, identifier); err != nil {
		return fmt.Errorf("revoke access tokens for %q: %w", identifier, mapError(err))
	}
	if _, err := tx.Exec(ctx, deleteResourceConsentsSQL, identifier); err != nil {
		return fmt.Errorf("delete consents for %q: %w", identifier, mapError(err))
	}
	return nil
}
