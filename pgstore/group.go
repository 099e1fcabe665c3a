package pgstore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	webhook "github.com/hookline/webhook"
)

// Group commit. Concurrent InsertMessage calls are coalesced: the first
// caller to find no flush running (or fewer than maxFlushers) becomes a
// flusher and stores everything queued, up to Options.MaxGroup messages,
// in one statement and one commit (insertManySQL), then what queued
// meanwhile, until its own message has its answer; it then hands the
// queue to a waiting caller. Every caller still gets its own answer, and
// that answer still means what InsertMessage's contract says: the group's
// statement is atomic, so either every message it carried is stored or
// none is. A statement that fails with a database error (nothing stored)
// is retried message by message, so one message's failure is not
// another's. Duplicates and other tenants' IDs are told apart per message
// after the statement.

// maxFlushers is how many group statements may run at once. While one
// runs (and waits for its commit's fsync) the next group fills. One is
// cheaper than two: at fan-out 1 with 8 publishers, Postgres CPU per
// delivery was 533-605 us with one and 653-717 us with two (three
// alternating runs each), for the same throughput within noise.
const maxFlushers = 1

// groupLane is a queue of publishes waiting for their group statement,
// with its flushers. Publishes with ordered deliveries have a lane of
// their own (Store.lanes[1]): their statement takes queue locks, which a
// host's transaction holding an ordered publish (PublishTx) keeps until
// it commits; the unordered lane never waits for that.
type groupLane struct {
	mu       sync.Mutex
	q        []*groupItem // queued, not yet taken
	flushers int          // callers flushing the queue
}

type groupItem struct {
	insertItem
	lane *groupLane
	done chan error    // the answer, buffered
	lead chan struct{} // this caller is to flush next, buffered
	// Under lane.mu:
	leading  bool // lead was sent
	taken    bool // a flusher took it from the queue
	answered bool
}

// insertGrouped is InsertMessage through the group commit.
func (s *Store) insertGrouped(ctx context.Context, msg *webhook.Message, deliveries []*webhook.Delivery) error {
	l := &s.lanes[0]
	if anyOrdered(deliveries) {
		l = &s.lanes[1]
	}
	it := &groupItem{insertItem: insertItem{msg: msg, ds: deliveries}, lane: l, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	l.mu.Lock()
	l.q = append(l.q, it)
	lead := l.flushers < maxFlushers
	if lead {
		l.flushers++
	}
	l.mu.Unlock()
	if lead {
		s.flushFor(it)
		return <-it.done
	}
	select {
	case err := <-it.done:
		return err
	case <-it.lead:
		s.flushFor(it)
		return <-it.done
	case <-ctx.Done():
	}
	l.mu.Lock()
	if !it.taken && !it.leading {
		if i := slices.Index(l.q, it); i >= 0 {
			l.q = slices.Delete(l.q, i, i+1)
			l.mu.Unlock()
			return fmt.Errorf("pgstore: inserting message %s: nothing sent: %w", msg.ID, ctx.Err())
		}
	}
	l.mu.Unlock()
	// Its statement is running, or it was picked to flush: the answer
	// comes all the same.
	select {
	case err := <-it.done:
		return err
	case <-it.lead:
		s.flushFor(it)
		return <-it.done
	}
}

// flushFor runs groups off the queue until own has its answer, then hands
// the queue (if not empty) to a waiting caller, keeping the flusher count.
func (s *Store) flushFor(own *groupItem) {
	l := own.lane
	for {
		l.mu.Lock()
		if own.answered || len(l.q) == 0 {
			if len(l.q) > 0 {
				for _, it := range l.q {
					if !it.leading {
						it.leading = true
						it.lead <- struct{}{}
						l.mu.Unlock()
						return
					}
				}
			}
			l.flushers--
			l.mu.Unlock()
			return
		}
		// One statement carries distinct IDs: a second publish of an ID
		// waits for the next group (and then finds it taken).
		var group []*groupItem
		ids := make(map[string]bool, min(len(l.q), s.maxGroup))
		rest := l.q[:0]
		for _, it := range l.q {
			if len(group) < s.maxGroup && !ids[it.msg.ID] {
				ids[it.msg.ID] = true
				it.taken = true
				group = append(group, it)
				continue
			}
			rest = append(rest, it)
		}
		clear(l.q[len(rest):])
		l.q = rest
		l.mu.Unlock()
		errs := s.runGroup(group)
		l.mu.Lock()
		for _, it := range group {
			it.answered = true
		}
		l.mu.Unlock()
		for i, it := range group {
			it.done <- errs[i]
		}
	}
}

// runGroup stores a group's messages in one statement and returns each
// one's answer. It runs under Options.InsertTimeout, not the callers'
// contexts: once taken, a message is written to the end.
func (s *Store) runGroup(group []*groupItem) []error {
	ctx, cancel := context.WithTimeout(context.Background(), s.insertTimeout)
	defer cancel()
	errs := make([]error, len(group))
	items := make([]insertItem, len(group))
	deliveries := false
	for i, it := range group {
		items[i] = it.insertItem
		deliveries = deliveries || len(it.ds) > 0
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		for i, it := range group {
			errs[i] = fmt.Errorf("pgstore: inserting message %s: nothing sent: %w", it.msg.ID, err)
		}
		return errs
	}
	released := false
	defer func() {
		if !released {
			conn.Release()
		}
	}()
	notify := s.notify && deliveries && s.notifyNow()
	inserted, err := s.insertMany(ctx, conn, items, notify, false)
	if err != nil {
		// A definite failure (the database refused the statement, so
		// nothing of it is stored) may be one message's fault: answer each
		// message alone.
		if len(group) > 1 && !unknownOutcome(err) {
			conn.Release()
			released = true
			for i := range group {
				errs[i] = s.runGroup(group[i : i+1])[0]
			}
			return errs
		}
		for i, it := range group {
			errs[i] = err
			if unknownOutcome(err) {
				errs[i] = fmt.Errorf("%w: pgstore: inserting message %s: %v", webhook.ErrOutcomeUnknown, it.msg.ID, err)
			}
		}
		return errs
	}
	if s.notify && deliveries && !notify {
		s.notifyLater()
	}
	if len(inserted) == len(group) {
		return errs
	}
	var taken []string
	for _, it := range group {
		if !inserted[it.msg.ID] {
			taken = append(taken, it.msg.ID)
		}
	}
	found, ferr := s.storedMessages(ctx, conn, taken)
	for i, it := range group {
		if inserted[it.msg.ID] {
			continue
		}
		m := found[it.msg.ID]
		switch {
		case ferr != nil:
			errs[i] = fmt.Errorf("pgstore: message %s not stored, its ID is taken; looking it up failed: %w", it.msg.ID, ferr)
		case m == nil || m.Tenant != it.msg.Tenant:
			errs[i] = idTakenErr(it.msg.ID, m == nil)
		default:
			errs[i] = fmt.Errorf("%w: %s", webhook.ErrDuplicate, it.msg.ID)
		}
	}
	return errs
}
