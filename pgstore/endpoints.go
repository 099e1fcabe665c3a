package pgstore

import (
	"context"
	"fmt"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/jackc/pgx/v5"
)

func endpointArgs(ep *webhook.Endpoint) []any {
	types := ep.EventTypes
	if types == nil {
		types = []string{}
	}
	return []any{ep.ID, ep.Tenant, ep.URL, ep.Description, types, ep.Disabled, ep.DisabledReason,
		ep.Secret, ep.PreviousSecret, nullTime(ep.PreviousSecretExpiresAt), ep.Headers, ep.RateLimit,
		ep.Metadata, ep.CreatedAt, ep.UpdatedAt, ep.SigningKey, nullTime(ep.FailingSince),
		nonNil(ep.Channels), ep.Filter, ep.Format, ep.Ordered}
}

// nonNil gives text[] columns declared NOT NULL an empty array for nil.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// endpointDest returns the scan destinations of endpointCols and a func
// that finishes ep after the scan.
func endpointDest(ep *webhook.Endpoint) ([]any, func()) {
	var prevExp, failing *time.Time
	dest := []any{&ep.ID, &ep.Tenant, &ep.URL, &ep.Description, &ep.EventTypes, &ep.Disabled,
		&ep.DisabledReason, &ep.Secret, &ep.PreviousSecret, &prevExp, &ep.Headers, &ep.RateLimit,
		&ep.Metadata, &ep.CreatedAt, &ep.UpdatedAt, &ep.SigningKey, &failing, &ep.Channels, &ep.Filter, &ep.Format, &ep.Ordered}
	return dest, func() {
		ep.PreviousSecretExpiresAt = utc(prevExp)
		ep.FailingSince = utc(failing)
		ep.CreatedAt, ep.UpdatedAt = ep.CreatedAt.UTC(), ep.UpdatedAt.UTC()
		if len(ep.EventTypes) == 0 {
			ep.EventTypes = nil
		}
		if len(ep.Channels) == 0 {
			ep.Channels = nil
		}
	}
}

// CreateEndpoint implements webhook.Store.
func (s *Store) CreateEndpoint(ctx context.Context, ep *webhook.Endpoint) error {
	_, err := s.execEndpointWrite(ctx, s.q.createEndpoint, endpointArgs(ep))
	return mapErr(err, "endpoint "+ep.ID)
}

// GetEndpoint implements webhook.Store.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*webhook.Endpoint, error) {
	ep, err := scanEndpoint(s.pool.QueryRow(ctx, s.q.getEndpoint, id))
	return ep, mapErr(err, "endpoint "+id)
}

// UpdateEndpoint implements webhook.Store. With Ordered off, the same
// transaction releases the endpoint's waiting deliveries (ordered.go:
// lockWaiting, release): they become unordered, due at their
// NextAttemptAt, with no OrderingKey (as in the memory store).
func (s *Store) UpdateEndpoint(ctx context.Context, ep *webhook.Endpoint) error {
	args := endpointArgs(ep)
	args = append(args[:13], ep.UpdatedAt, ep.SigningKey, nullTime(ep.FailingSince), nonNil(ep.Channels), ep.Filter, ep.Format, ep.Ordered) // CreatedAt stays
	var then []queuedStmt
	if !ep.Ordered {
		then = []queuedStmt{{s.oq.lockWaiting, []any{ep.ID}}, {s.oq.release, []any{ep.ID}}}
	}
	tag, err := s.execEndpointWrite(ctx, s.q.updateEndpoint, args, then...)
	if err != nil {
		return mapErr(err, "endpoint "+ep.ID)
	}
	if !ep.Ordered {
		s.broadcast() // released deliveries may be due
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: endpoint %s", webhook.ErrNotFound, ep.ID)
	}
	return nil
}

// DeleteEndpoint implements webhook.Store. Its deliveries and their
// attempts go by ON DELETE CASCADE.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	tag, err := s.execEndpointWrite(ctx, s.q.deleteEndpoint, []any{id})
	if err != nil {
		return mapErr(err, "endpoint "+id)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: endpoint %s", webhook.ErrNotFound, id)
	}
	return nil
}

// ListEndpoints implements webhook.Store.
func (s *Store) ListEndpoints(ctx context.Context, q webhook.EndpointQuery) ([]*webhook.Endpoint, string, error) {
	limit := webhook.PageLimit(q.Limit)
	rows, err := s.pool.Query(ctx, s.q.listEndpoints, q.AllTenants, q.Tenant, q.EnabledOnly, q.Cursor, limit+1)
	if err != nil {
		return nil, "", mapErr(err, "listing endpoints")
	}
	out, err := collect(rows, scanEndpoint)
	if err != nil {
		return nil, "", mapErr(err, "listing endpoints")
	}
	out, next := webhook.Page(out, limit, func(x *webhook.Endpoint) string { return x.ID })
	return out, next, nil
}

// MatchEndpoints implements webhook.EndpointMatcher: the tenant's enabled
// endpoints subscribed to the type and taking the channels, chosen by the
// database, answered from an in-process cache kept correct across
// instances (matchcache.go, Options.DisableMatchCache).
func (s *Store) MatchEndpoints(ctx context.Context, q webhook.MatchQuery) ([]*webhook.Endpoint, error) {
	return s.cachedMatch(ctx, q, s.matchEndpoints)
}

func (s *Store) matchEndpoints(ctx context.Context, q webhook.MatchQuery) ([]*webhook.Endpoint, error) {
	rows, err := s.pool.Query(ctx, s.q.matchEndpoints, q.Tenant, q.EventType, nonNil(q.Channels))
	if err != nil {
		return nil, mapErr(err, "matching endpoints")
	}
	eps, err := collect(rows, scanEndpoint)
	if err != nil {
		return nil, mapErr(err, "matching endpoints")
	}
	out := eps[:0]
	for _, ep := range eps {
		if ep.Subscribes(q.EventType) && ep.Receives(q.Channels) { // the Go rules have the last word
			out = append(out, ep)
		}
	}
	return out, nil
}

func scanEndpoint(row pgx.Row) (*webhook.Endpoint, error) {
	ep := &webhook.Endpoint{}
	dest, done := endpointDest(ep)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	done()
	return ep, nil
}

// collect scans every row with scan and closes rows.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
