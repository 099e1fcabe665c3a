package webhook

import "time"

// record is a Record on its way to the recorder, with the claim it ends
// (for the logs).
type record struct {
	Record
	c *Claimed
}

// recordBatchMax is the most records one Record call carries.
const recordBatchMax = 256

// urgent reports whether a record should be written without waiting out
// a window of that length: it makes its delivery due before the window
// would end (put back, or retried soon), or it is an ordered delivery's
// (when it ends the delivery, the next of its queue waits for it; a
// retry of an ordered delivery is written at once too, which costs only
// a smaller batch).
func (r *record) urgent(window time.Duration) bool {
	if r.State == StatePending && r.NextAttemptAt.Before(r.Now.Add(window)) {
		return true
	}
	return r.c != nil && r.c.Delivery != nil && r.c.Delivery.Ordered
}

// recordLoop writes outcomes to the store in batches. When outcomes keep
// arriving, it waits up to the store's Pacing.RecordWindow from the first outcome of a
// batch for more (each Record call costs a database a round trip, a
// statement and a commit, whatever its size), and writes at once when the
// batch is full, when an outcome is urgent (see record.urgent), or at
// Shutdown (the channel closes). A delivery whose outcome waits keeps its
// lease meanwhile, so nothing else claims it.
func (d *Dispatcher) recordLoop() {
	batch := make([]Record, 0, recordBatchMax)
	claims := make([]*Claimed, 0, recordBatchMax) // claims[i] is batch[i]'s, for the logs
	window := time.NewTimer(time.Hour)
	window.Stop()
	defer window.Stop()
	open := true
	for open {
		r, ok := <-d.records
		if !ok {
			return
		}
		batch, claims = append(batch[:0], r.Record), append(claims[:0], r.c)
		urgent := r.urgent(d.pacing.RecordWindow)
		waiting := false
	fill:
		for len(batch) < recordBatchMax {
			if urgent || d.pacing.RecordWindow <= 0 {
				select { // take what is queued, wait for nothing
				case r, ok := <-d.records:
					if !ok {
						open = false
						break fill
					}
					batch, claims = append(batch, r.Record), append(claims, r.c)
				default:
					break fill
				}
				continue
			}
			if !waiting {
				window.Reset(d.pacing.RecordWindow)
				waiting = true
			}
			select {
			case r, ok := <-d.records:
				if !ok {
					open = false
					break fill
				}
				batch, claims = append(batch, r.Record), append(claims, r.c)
				urgent = r.urgent(d.pacing.RecordWindow)
			case <-window.C:
				waiting = false
				break fill
			}
		}
		window.Stop()
		d.write(batch, claims)
	}
}

// write records one batch and logs what did not count.
func (d *Dispatcher) write(batch []Record, claims []*Claimed) {
	applied, err := d.store.Record(d.recordCtx, batch)
	if err != nil {
		d.log.Error("hookline: recording attempts failed; the deliveries come due again when their leases expire",
			"error", err, "count", len(batch))
		return
	}
	for i, ok := range applied {
		if !ok {
			d.log.Warn("hookline: lease lost before the attempt was recorded; the delivery will be attempted again",
				recordAttrs(batch[i], claims[i])...)
		}
	}
	for _, r := range batch {
		if r.State == StatePending && !r.NextAttemptAt.After(r.Now) {
			d.wakeUp()
			return
		}
	}
}
