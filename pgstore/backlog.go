package pgstore

import (
	"context"
	"time"

	webhook "github.com/hookline/webhook"
)

// Backlog implements webhook.BacklogCounter at a cost independent of the
// number of deliveries: Pending and Retrying are the sum of 16 counter rows
// that triggers on the deliveries table keep up to date (migration 0005),
// and OldestDue is the first entry of the index Claim walks, the earliest
// time a pending delivery becomes claimable (its next attempt time, or its
// lease's expiry while leased), reported when it is at or before the
// current time (time.Now, the clock the dispatcher stamps deliveries with)
// and zero otherwise.
//
// Writes that could not add to a counter row without waiting or, under
// REPEATABLE READ or SERIALIZABLE, without risking a serialization failure
// (PublishTx inside such a transaction) leave their deltas as rows of their
// own; Backlog folds those into the counters after reading them, so a
// Backlog call may write.
func (s *Store) Backlog(ctx context.Context) (webhook.Backlog, error) {
	var pending, retrying, extra int64
	var oldest *time.Time
	if err := s.pool.QueryRow(ctx, s.q.backlog).Scan(&pending, &retrying, &extra, &oldest); err != nil {
		return webhook.Backlog{}, mapErr(err, "reading the backlog counters")
	}
	if extra > 0 {
		if _, err := s.pool.Exec(ctx, s.q.backlogFold); err != nil {
			return webhook.Backlog{}, mapErr(err, "folding the backlog counters")
		}
	}
	b := webhook.Backlog{Pending: int(pending), Retrying: int(retrying)}
	if at := utc(oldest); !at.IsZero() && !at.After(time.Now()) {
		b.OldestDue = at
	}
	return b, nil
}
