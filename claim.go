package webhook

import (
	"context"
	"time"
)

// claimLoop is the claimer: it takes free workers' tokens from admission,
// claims as many due deliveries, and hands those admission admits to the
// workers. It sleeps when nothing is due, until a publish or the store
// wakes it, or PollInterval passes. It closes the work channel when it
// returns, at Shutdown.
//
// With a store that asks for it (Pacing.ClaimInterval), claims start at
// most once per interval: what comes due in between is claimed together.
func (d *Dispatcher) claimLoop(ctx context.Context, notify <-chan struct{}) {
	defer close(d.work)
	poll := time.NewTimer(d.cfg.PollInterval)
	defer poll.Stop()
	pace := time.NewTimer(time.Hour)
	pace.Stop()
	defer pace.Stop()
	var last time.Time // when the last claim started
	for {
		if wait := d.pacing.ClaimInterval - time.Since(last); wait > 0 {
			pace.Reset(wait)
			select {
			case <-pace.C:
			case <-d.stop:
				return
			}
		}
		n := d.adm.acquire(d.stop, d.cfg.ClaimBatch)
		if n == 0 {
			return
		}
		ready := d.adm.takeReady(n)
		for _, c := range ready {
			d.work <- c
		}
		if n -= len(ready); n == 0 {
			continue
		}
		last = time.Now()
		claimed, err := d.claim(ctx, ClaimParams{
			Owner: d.owner, Now: d.cfg.Now(), Limit: n, Lease: d.cfg.Lease, SkipEndpoints: d.adm.saturated(),
		})
		if err != nil && ctx.Err() == nil {
			d.log.Error("hookline: claiming deliveries failed", "error", err)
		}
		used := 0
		for _, c := range claimed {
			if d.adm.admit(c) {
				d.work <- c
				used++
			}
		}
		d.adm.unused(n - used)
		if len(claimed) == n && err == nil {
			continue
		}
		poll.Reset(d.cfg.PollInterval)
		select {
		case <-d.wake:
		case <-notify:
		case <-poll.C:
		case <-d.stop:
			return
		}
	}
}

// claim claims deliveries redelivered by an operator first (by ID, past the
// breaker and the endpoint limits), then due deliveries.
func (d *Dispatcher) claim(ctx context.Context, p ClaimParams) ([]*Claimed, error) {
	var out []*Claimed
	for _, id := range d.health.takeUrgent(p.Limit) {
		c, err := d.store.ClaimDelivery(ctx, id, p)
		if err != nil {
			continue // finished, deleted or leased: it is due anyway
		}
		d.health.setBypass(c.Delivery.ID)
		out = append(out, c)
	}
	if len(out) == p.Limit {
		return out, nil
	}
	p.Limit -= len(out)
	rest, err := d.store.Claim(ctx, p)
	return append(out, rest...), err
}

// putBack returns a claimed delivery unattempted, due at once.
func (d *Dispatcher) putBack(c *Claimed) { d.putBackAt(c, d.cfg.Now()) }

// putBackAt returns a claimed delivery unattempted, due at at.
func (d *Dispatcher) putBackAt(c *Claimed, at time.Time) {
	d.records <- record{Record{DeliveryID: c.Delivery.ID, Lease: c.Lease, Now: d.cfg.Now(), State: StatePending, NextAttemptAt: at}, c}
}
