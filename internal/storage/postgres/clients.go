package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage"
)

const insertClientSQL = `
INSERT INTO clients (id, kind, name, secret_hash, grant_types, redirect_uris,
	scopes, token_endpoint_auth_method)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING created_at, updated_at`

// CreateClient stores c and sets c.CreatedAt and c.UpdatedAt.
func (s *Store) CreateClient(ctx context.Context, c *storage.Client) error {
	if !c.ValidText() {
		return fmt.Errorf("create client: %w", storage.ErrInvalid)
	}

	var created, updated time.Time
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		created, updated, err = insertClient(ctx, tx, c)
		return err
	})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}

	c.CreatedAt, c.UpdatedAt = created, updated
	return nil
}

// insertClient inserts c and its resource list, and returns the timestamps
// the database chose.
func insertClient(
	ctx context.Context, tx pgx.Tx, c *storage.Client,
) (created, updated time.Time, err error) {
	err = tx.QueryRow(ctx, insertClientSQL, c.ID, c.Kind, c.Name, c.SecretHash,
		notNil(c.GrantTypes), notNil(c.RedirectURIs), notNil(c.Scopes),
		c.TokenEndpointAuthMethod).Scan(&created, &updated)
	if err != nil {
		return created, updated, fmt.Errorf("insert client: %w", mapError(err))
	}

	if err := insertClientResources(ctx, tx, c.ID, c.Resources); err != nil {
		return created, updated, err
	}
	return created.UTC(), updated.UTC(), nil
}

// insertClientResourcesSQL turns identifiers into resource IDs, keeping the
// order they came in. An identifier that names no resource yields no row; a
// repeated one violates the primary key.
const insertClientResourcesSQL = `
INSERT INTO client_resources (client_id, resource_id, position)
SELECT $1, r.id, u.position
FROM unnest($2::text[]) WITH ORDINALITY AS u (identifier, position)
JOIN resources r ON r.identifier = u.identifier`

func insertClientResources(
	ctx context.Context, tx pgx.Tx, clientID string, identifiers []string,
) error {
	if len(identifiers) == 0 {
		return nil
	}

	tag, err := tx.Exec(ctx, insertClientResourcesSQL, clientID, identifiers)
	if err != nil {
		return fmt.Errorf("insert client resources: %w", mapError(err))
	}
	if tag.RowsAffected() != int64(len(identifiers)) {
		return fmt.Errorf("find client resources: %w", storage.ErrNotFound)
	}
	return nil
}

// clientColumns selects a client with its resource identifiers in order,
// from the clients table aliased c.
const clientColumns = `
	c.id, c.kind, c.name, c.secret_hash, c.grant_types, c.redirect_uris,
	c.scopes, c.token_endpoint_auth_method, c.created_at, c.updated_at,
	ARRAY(
		SELECT r.identifier
		FROM client_resources cr JOIN resources r ON r.id = cr.resource_id
		WHERE cr.client_id = c.id
		ORDER BY cr.position
	)`

func scanClient(row pgx.Row) (*storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.Kind, &c.Name, &c.SecretHash, &c.GrantTypes,
		&c.RedirectURIs, &c.Scopes, &c.TokenEndpointAuthMethod, &c.CreatedAt,
		&c.UpdatedAt, &c.Resources)
	if err != nil {
		return nil, err
	}

	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

const selectClientSQL = `SELECT ` + clientColumns + ` FROM clients c WHERE c.id = $1`

// Client returns the client with the given ID.
func (s *Store) Client(ctx context.Context, id string) (*storage.Client, error) {
	if !storage.ValidText(id) {
		return nil, fmt.Errorf("get client: %w", storage.ErrNotFound)
	}

	c, err := scanClient(s.querier(ctx).QueryRow(ctx, selectClientSQL, id))
	if err != nil {
		return nil, fmt.Errorf("get client: %w", mapError(err))
	}
	return c, nil
}

const listClientsSQL = `SELECT ` + clientColumns + `
FROM clients c
WHERE c.kind = $1 AND c.id > $2
ORDER BY c.id
LIMIT $3`

// ListClients returns up to limit clients of the given kind whose ID sorts
// after the given one, in ID order.
func (s *Store) ListClients(
	ctx context.Context, kind storage.ClientKind, after string, limit int,
) ([]*storage.Client, error) {
	if !storage.ValidText(string(kind), after) {
		return nil, fmt.Errorf("list clients: %w", storage.ErrInvalid)
	}

	if limit <= 0 {
		return nil, nil
	}

	rows, err := s.querier(ctx).Query(ctx, listClientsSQL, kind, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", mapError(err))
	}
	clients, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*storage.Client, error) {
		return scanClient(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", mapError(err))
	}
	return clients, nil
}

const updateClientSQL = `
UPDATE clients
SET name = $2, grant_types = $3, redirect_uris = $4, scopes = $5,
	token_endpoint_auth_method = $6, updated_at = now()
WHERE id = $1
RETURNING created_at, updated_at`

const deleteClientResourcesSQL = `DELETE FROM client_resources WHERE client_id = $1`

// UpdateClient replaces the mutable fields of a client, its resource list
// included, and sets c.CreatedAt and c.UpdatedAt to the stored values.
func (s *Store) UpdateClient(ctx context.Context, c *storage.Client) error {
	if !c.ValidText() {
		return fmt.Errorf("update client: %w", storage.ErrInvalid)
	}

	var created, updated time.Time
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, updateClientSQL, c.ID, c.Name, notNil(c.GrantTypes),
			notNil(c.RedirectURIs), notNil(c.Scopes), c.TokenEndpointAuthMethod,
		).Scan(&created, &updated)
		if err != nil {
			return fmt.Errorf("update client row: %w", mapError(err))
		}

		if _, err := tx.Exec(ctx, deleteClientResourcesSQL, c.ID); err != nil {
			return fmt.Errorf("delete client resources: %w", mapError(err))
		}
		return insertClientResources(ctx, tx, c.ID, c.Resources)
	})
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}

	c.CreatedAt, c.UpdatedAt = created.UTC(), updated.UTC()
	return nil
}

const setClientSecretSQL = `
UPDATE clients SET secret_hash = $2, updated_at = now() WHERE id = $1`

// SetClientSecret replaces a client's secret hash.
func (s *Store) SetClientSecret(ctx context.Context, id string, hash []byte) error {
	if !storage.ValidText(id) {
		return fmt.Errorf("set client secret: %w", storage.ErrInvalid)
	}

	tag, err := s.querier(ctx).Exec(ctx, setClientSecretSQL, id, hash)
	if err != nil {
		return fmt.Errorf("set client secret: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set client secret: %w", storage.ErrNotFound)
	}
	return nil
}

// deleteClientSQL leaves a resource's credentials alone: they go with the
// resource. The foreign keys delete the client's resource list and the
// records of its access tokens.
const deleteClientSQL = `DELETE FROM clients WHERE id = $1 AND kind = 'client'`

// DeleteClient removes a client of KindClient and the records of the access
// tokens issued to it.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if !storage.ValidText(id) {
		return fmt.Errorf("delete client: %w", storage.ErrNotFound)
	}

	tag, err := s.querier(ctx).Exec(ctx, deleteClientSQL, id)
	if err != nil {
		return fmt.Errorf("delete client: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete client: %w", storage.ErrNotFound)
	}
	return nil
}

// notNil returns s, or an empty slice if s is nil: pgx sends a nil slice as
// NULL, which the NOT NULL array columns refuse.
func notNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
