package webhook

// record is a Record on its way to the recorder, with the claim it ends
// (for the logs).
type record struct {
	Record
	c *Claimed
}

// recordLoop writes outcomes to the store, batching what has queued up.
func (d *Dispatcher) recordLoop() {
	batch := make([]Record, 0, 128)
	claims := make([]*Claimed, 0, 128) // claims[i] is batch[i]'s, for the logs
	for r := range d.records {
		batch, claims = append(batch[:0], r.Record), append(claims[:0], r.c)
	drain:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-d.records:
				if !ok {
					break drain
				}
				batch, claims = append(batch, r.Record), append(claims, r.c)
			default:
				break drain
			}
		}
		applied, err := d.store.Record(d.recordCtx, batch)
		if err != nil {
			d.log.Error("hookline: recording attempts failed; the deliveries come due again when their leases expire",
				"error", err, "count", len(batch))
			continue
		}
		for i, ok := range applied {
			if !ok {
				d.log.Warn("hookline: lease lost before the attempt was recorded; the delivery will be attempted again",
					recordAttrs(batch[i], claims[i])...)
			}
		}
		wake := false
		for _, r := range batch {
			if r.State == StatePending && !r.NextAttemptAt.After(r.Now) {
				wake = true
			}
		}
		if wake {
			d.wakeUp()
		}
	}
}
