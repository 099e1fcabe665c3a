package pgstore

import (
	"context"
	"strings"
	"sync"

	webhook "github.com/hookline/webhook"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The match cache keeps MatchEndpoints' answers in process, so a publish
// costs no endpoint query. It is kept correct across instances by
// LISTEN/NOTIFY: every endpoint write (CreateEndpoint, UpdateEndpoint,
// DeleteEndpoint, on any instance) sends a NOTIFY with payload
// endpointsChanged inside its own transaction, and the store's listener
// empties the cache when it arrives. The cache answers only while the
// listener is connected, and an answer read before an invalidation is never
// kept (a generation counter): an endpoint write on another instance is
// seen by publishes here once its notification has arrived, a millisecond
// or so after it committed; writes through this store are seen at once.
// Endpoints changed by hand in the database (not through a Store) are not
// seen until some endpoint write or a reconnection of the listener: turn
// the cache off (Options.DisableMatchCache) if the host does that.
//
// A stale answer within that window is harmless for endpoints deleted
// (the insert drops deliveries of endpoints that no longer exist) or
// disabled (the dispatcher finishes such deliveries without an attempt);
// for an endpoint created or subscribed meanwhile it is the same race a
// publish running at the same moment as the write has without a cache.

// queuedStmt is a statement to queue in a batch.
type queuedStmt struct {
	sql  string
	args []any
}

// endpointsChanged is the NOTIFY payload of an endpoint write.
const endpointsChanged = "endpoints"

// maxCachedMatches bounds the cache; when full it starts over.
const maxCachedMatches = 4096

// matchKey is a MatchQuery as a map key: its channels joined by NUL,
// which no validated channel name holds.
type matchKey struct{ tenant, eventType, channels string }

type matchCache struct {
	mu      sync.Mutex
	live    bool   // the listener is connected: the cache may answer
	gen     uint64 // bumped by every invalidation
	entries map[matchKey][]*webhook.Endpoint
}

// get returns the cached match, and the generation to fill it with.
func (c *matchCache) get(k matchKey) (eps []*webhook.Endpoint, ok bool, gen uint64, live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	eps, ok = c.entries[k]
	return eps, ok && c.live, c.gen, c.live
}

// put keeps eps unless an invalidation came since gen was read.
func (c *matchCache) put(k matchKey, eps []*webhook.Endpoint, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedMatches {
		c.entries = make(map[matchKey][]*webhook.Endpoint)
	}
	c.entries[k] = eps
}

// invalidate empties the cache; live says whether it may answer from now
// on (false while the listener is away).
func (c *matchCache) invalidate(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.live = live
	c.entries = nil
}

// cachedMatch answers MatchEndpoints from the cache, or through match
// (the query) and keeps the answer.
func (s *Store) cachedMatch(ctx context.Context, q webhook.MatchQuery,
	match func(ctx context.Context, q webhook.MatchQuery) ([]*webhook.Endpoint, error)) ([]*webhook.Endpoint, error) {
	if s.noMatchCache {
		return match(ctx, q)
	}
	k := matchKey{q.Tenant, q.EventType, strings.Join(q.Channels, "\x00")}
	eps, ok, gen, live := s.matches.get(k)
	if ok {
		return eps, nil
	}
	eps, err := match(ctx, q)
	if err == nil && live {
		s.matches.put(k, eps, gen)
	}
	return eps, err
}

// endpointsWritten runs after an endpoint write through this store:
// publishes here see it at once, other instances when its NOTIFY arrives.
func (s *Store) endpointsWritten() {
	s.matches.invalidate(s.matchesLive())
}

// matchesLive reports whether the listener is connected.
func (s *Store) matchesLive() bool {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return s.listening
}

// execEndpointWrite runs an endpoint write and, in the same implicit
// transaction (one pipelined batch), the NOTIFY that empties the match
// caches of every instance when it commits. It notifies whatever
// Options.DisableNotify says: other instances may cache.
// Statements in then run after it, in the same transaction, which is then
// an explicit READ COMMITTED one (they are the release of ordered.go, whose
// second statement must see what the first one's locks waited for).
func (s *Store) execEndpointWrite(ctx context.Context, sql string, args []any, then ...queuedStmt) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	for _, st := range then {
		b.Queue(st.sql, st.args...)
	}
	b.Queue("SELECT pg_notify($1, $2)", s.channel, endpointsChanged)
	var tag pgconn.CommandTag
	read := func(br pgx.BatchResults) error {
		var err error
		if tag, err = br.Exec(); err != nil {
			return err
		}
		return execAll(br, len(then)+1)
	}
	run := runBatch
	if len(then) > 0 {
		run = runTx
	}
	err := run(ctx, s.pool, b, read)
	if err == nil {
		s.endpointsWritten()
	}
	return tag, err
}
