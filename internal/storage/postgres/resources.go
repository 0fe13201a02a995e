package postgres

import (
	"context"
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
INSERT INTO resources (id, identifier, name, scopes, client_id)
VALUES ($1, $2, $3, $4, $5)
RETURNING created_at, updated_at`

// CreateResource stores r and its credentials client in one transaction.
// It sets r.ClientID to credentials.ID and the timestamps of both.
func (s *Store) CreateResource(
	ctx context.Context, r *storage.Resource, credentials *storage.Client,
) error {
	if credentials.Kind != storage.KindResource {
		return errCredentialsKind
	}

	var cCreated, cUpdated, rCreated, rUpdated time.Time
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		cCreated, cUpdated, err = insertClient(ctx, tx, credentials)
		if err != nil {
			return err
		}

		err = tx.QueryRow(ctx, insertResourceSQL, r.ID, r.Identifier, r.Name,
			notNil(r.Scopes), credentials.ID).Scan(&rCreated, &rUpdated)
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
	return nil
}

const resourceColumns = `id, identifier, name, scopes, client_id, created_at, updated_at`

func scanResource(row pgx.Row) (*storage.Resource, error) {
	var r storage.Resource
	err := row.Scan(&r.ID, &r.Identifier, &r.Name, &r.Scopes, &r.ClientID,
		&r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}

	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return &r, nil
}

const selectResourceSQL = `SELECT ` + resourceColumns + ` FROM resources WHERE id = $1`

// Resource returns the resource with the given ID.
func (s *Store) Resource(ctx context.Context, id string) (*storage.Resource, error) {
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

// updateResourceSQL needs no change to client_resources: those rows point at
// the resource's ID, so clients see the new identifier at once.
const updateResourceSQL = `
UPDATE resources
SET identifier = $2, name = $3, scopes = $4, updated_at = now()
WHERE id = $1
RETURNING client_id, created_at, updated_at`

// UpdateResource replaces Identifier, Name and Scopes, and sets r.ClientID
// and the timestamps to the stored values.
func (s *Store) UpdateResource(ctx context.Context, r *storage.Resource) error {
	var clientID string
	var created, updated time.Time
	err := s.querier(ctx).QueryRow(ctx, updateResourceSQL, r.ID, r.Identifier, r.Name,
		notNil(r.Scopes)).Scan(&clientID, &created, &updated)
	if err != nil {
		return fmt.Errorf("update resource: %w", mapError(err))
	}

	r.ClientID, r.CreatedAt, r.UpdatedAt = clientID, created.UTC(), updated.UTC()
	return nil
}

// deleteResourceSQL deletes the credentials client; the foreign keys then
// delete the resource, its rows in client_resources (taking it out of every
// client's Resources) and the credentials' own rows, all in one statement.
const deleteResourceSQL = `
DELETE FROM clients
WHERE kind = 'resource'
	AND id = (SELECT client_id FROM resources WHERE id = $1)`

// DeleteResource removes a resource, its credentials client, and the
// resource from every client's Resources.
func (s *Store) DeleteResource(ctx context.Context, id string) error {
	tag, err := s.querier(ctx).Exec(ctx, deleteResourceSQL, id)
	if err != nil {
		return fmt.Errorf("delete resource: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete resource: %w", storage.ErrNotFound)
	}
	return nil
}
