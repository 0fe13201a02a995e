package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// saveConsentSQL inserts or merges in one statement, so that two decisions
// saved at the same moment for one user, client and resource both end up
// in the one row, each merged as Grants.SaveConsent says: what is
// remembered grows only by scopes the user asked to remember. The union
// is sorted byte by byte ("C"), as Go sorts strings, whatever the
// database's locale; $5 is sorted already.
const saveConsentSQL = `
INSERT INTO consents AS c (id, user_id, client_id, resource, scopes, remember)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (user_id, client_id, resource) DO UPDATE
SET scopes = CASE
		WHEN c.remember AND NOT excluded.remember THEN c.scopes
		WHEN excluded.remember AND NOT c.remember THEN excluded.scopes
		ELSE ARRAY(
			SELECT DISTINCT u.scope COLLATE "C"
			FROM unnest(c.scopes || excluded.scopes) AS u (scope)
			ORDER BY 1
		)
	END,
	remember = c.remember OR excluded.remember,
	updated_at = now()
RETURNING id, scopes, remember, created_at, updated_at`

// SaveConsent stores c, or merges it into the consent the user already
// gave the client for the resource. Either way it sets c's ID, Scopes,
// Remember and timestamps to the stored values.
func (s *Store) SaveConsent(ctx context.Context, c *storage.Consent) error {
	if !c.ValidText() {
		return fmt.Errorf("save consent: %w", storage.ErrInvalid)
	}

	var id string
	var scopes []string
	var remember bool
	var created, updated time.Time
	newID := cmp.Or(c.ID, secret.NewID())
	err := s.querier(ctx).QueryRow(ctx, saveConsentSQL, newID, c.UserID, c.ClientID,
		c.Resource, scopeSet(c.Scopes), c.Remember,
	).Scan(&id, &scopes, &remember, &created, &updated)
	if err != nil {
		return fmt.Errorf("save consent: %w", mapError(err))
	}

	c.ID, c.Scopes, c.Remember = id, scopes, remember
	c.CreatedAt, c.UpdatedAt = created.UTC(), updated.UTC()
	return nil
}

// scopeSet returns scopes sorted and without duplicates, never nil.
func scopeSet(scopes []string) []string {
	set := slices.Clone(notNil(scopes))
	slices.Sort(set)
	return slices.Compact(set)
}

// forgetConsentSQL leaves a consent that is not remembered as it is, so
// that its UpdatedAt says when it last changed.
const forgetConsentSQL = `
UPDATE consents SET remember = false, updated_at = now()
WHERE user_id = $1 AND client_id = $2 AND resource = $3 AND remember`

// ForgetConsent clears Remember of a user's consent for a client and
// resource, if there is one.
func (s *Store) ForgetConsent(ctx context.Context, userID, clientID, resource string) error {
	if !storage.ValidText(userID, clientID, resource) {
		return nil
	}

	_, err := s.querier(ctx).Exec(ctx, forgetConsentSQL, userID, clientID, resource)
	if err != nil {
		return fmt.Errorf("forget consent: %w", mapError(err))
	}
	return nil
}

const consentColumns = `id, user_id, client_id, resource, scopes, remember, created_at, updated_at`

func scanConsent(row pgx.Row) (*storage.Consent, error) {
	var c storage.Consent
	err := row.Scan(&c.ID, &c.UserID, &c.ClientID, &c.Resource, &c.Scopes, &c.Remember,
		&c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, err
	}

	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

const selectConsentSQL = `SELECT ` + consentColumns + `
FROM consents
WHERE user_id = $1 AND client_id = $2 AND resource = $3`

// Consent returns the consent of a user for a client and resource.
func (s *Store) Consent(
	ctx context.Context, userID, clientID, resource string,
) (*storage.Consent, error) {
	if !storage.ValidText(userID, clientID, resource) {
		return nil, fmt.Errorf("get consent: %w", storage.ErrNotFound)
	}

	row := s.querier(ctx).QueryRow(ctx, selectConsentSQL, userID, clientID, resource)
	c, err := scanConsent(row)
	if err != nil {
		return nil, fmt.Errorf("get consent: %w", mapError(err))
	}
	return c, nil
}

const listConsentsSQL = `SELECT ` + consentColumns + `
FROM consents
WHERE user_id = $1
ORDER BY created_at, id`

// ListConsents returns a user's consents, oldest first; of two saved in the
// same microsecond (or the same transaction, as now() is the time the
// transaction began), the one with the smaller ID first.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]*storage.Consent, error) {
	if !storage.ValidText(userID) {
		return nil, nil
	}

	rows, err := s.querier(ctx).Query(ctx, listConsentsSQL, userID)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", mapError(err))
	}
	consents, err := pgx.CollectRows(rows,
		func(row pgx.CollectableRow) (*storage.Consent, error) { return scanConsent(row) })
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", mapError(err))
	}
	return consents, nil
}

// deleteConsentSQL names the user as well as the consent, so that a user
// can only withdraw their own. The foreign keys delete every code, refresh
// token and access token issued under the consent in the same statement:
// none can be redeemed, refreshed or introspected as active afterwards.
const deleteConsentSQL = `DELETE FROM consents WHERE id = $2 AND user_id = $1`

// DeleteConsent removes one of a user's consents with everything issued
// under it.
func (s *Store) DeleteConsent(ctx context.Context, userID, consentID string) error {
	if !storage.ValidText(userID, consentID) {
		return fmt.Errorf("delete consent: %w", storage.ErrNotFound)
	}

	tag, err := s.querier(ctx).Exec(ctx, deleteConsentSQL, userID, consentID)
	if err != nil {
		return fmt.Errorf("delete consent: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete consent: %w", storage.ErrNotFound)
	}
	return nil
}
