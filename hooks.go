package webhook

import (
	"context"
	"fmt"
	"maps"
	"net/http"
)

// Hooks are called by the dispatcher. Each is optional; a panic in one is
// recovered and logged, and never stops a worker. Hooks run on the worker's
// goroutine: keep them quick. The deliveries, attempts and endpoints they
// are given are read-only.
type Hooks struct {
	// BeforeAttempt runs just before the request is sent; it may add
	// headers to req (or change User-Agent and the endpoint's own
	// Headers). What the signature and the receiver rely on is put back
	// after it: Content-Type, webhook-id, webhook-timestamp,
	// webhook-signature, Hookline-Event-Type, Hookline-Attempt and the
	// body, so a hook cannot make a delivery fail verification.
	BeforeAttempt func(ctx context.Context, req *http.Request, d *Delivery)
	// AfterAttempt runs once per attempt (numbers 1..n) with the delivery as
	// the attempt left it (state, attempts, next attempt time). The store
	// records the attempt concurrently, so a read from the store inside the
	// hook may not show it yet; Shutdown waits for both.
	AfterAttempt func(ctx context.Context, d *Delivery, a *Attempt)
	// DeliveryFailed runs when a delivery fails for good: its last attempt
	// failed, its failure was not retryable, or its endpoint was disabled.
	DeliveryFailed func(ctx context.Context, d *Delivery)
	// EndpointDisabled runs when the dispatcher disables an endpoint by
	// itself (410 Gone, failing for too long), with the reason.
	EndpointDisabled func(ctx context.Context, ep *Endpoint, reason string)
	// EndpointFailing runs once when an endpoint starts failing, as this
	// dispatcher sees it: its circuit breaker opens, or
	// HealthPolicy.FailingAfter attempts in a row failed, whichever comes
	// first; a is the attempt that tipped it. It fires again only after
	// EndpointRecovered. State is per dispatcher instance, in memory.
	EndpointFailing func(ctx context.Context, ep *Endpoint, a *Attempt)
	// EndpointRecovered runs once at the first successful attempt to an
	// endpoint after EndpointFailing fired for it.
	EndpointRecovered func(ctx context.Context, ep *Endpoint)
	// BeforePublish runs in Publish and PublishTx once the event is
	// validated and marshalled, before the envelope is built and before
	// anything is stored. msg has ID, Tenant, Type and CreatedAt set and a
	// Metadata map of its own (never the caller's): entries the hook adds
	// are stored with the message (trace context, for example; mind the
	// limit of 16 entries of 1 KiB). The context it returns is used for the
	// rest of the publish, store calls included; nil keeps ctx.
	BeforePublish func(ctx context.Context, msg *Message) context.Context
	// AfterPublish runs once for each BeforePublish, with the context
	// BeforePublish returned, the number of deliveries stored (fan-out) and
	// the error. A publish of an ID stored already calls it with 0
	// deliveries and an error matching ErrDuplicate, though Publish itself
	// then succeeds.
	AfterPublish func(ctx context.Context, msg *Message, deliveries int, err error)
}

// publishCtx carries a publish's context through its steps, so the
// context BeforePublish returned reaches the store calls and AfterPublish.
type publishCtx struct {
	ctx   context.Context
	msg   *Message // set once BeforePublish ran
	began bool
	// match, when set, finds the subscribers instead of d.subscribers.
	match func(ctx context.Context, q MatchQuery) ([]*Endpoint, error)
}

// beforePublish gives msg a Metadata map of its own and runs the
// BeforePublish hook. Entries the hook adds obey the same limits as the
// caller's.
func (d *Dispatcher) beforePublish(p *publishCtx, msg *Message) error {
	h := d.cfg.Hooks.BeforePublish
	if h == nil {
		return nil
	}
	md := maps.Clone(msg.Metadata)
	if md == nil {
		md = make(map[string]string) // no room reserved: a hook that adds nothing costs no table
	}
	msg.Metadata = md
	p.msg, p.began = msg, true
	d.safeHook("BeforePublish", func() {
		if ctx := h(p.ctx, msg); ctx != nil {
			p.ctx = ctx
		}
	})
	if len(msg.Metadata) == 0 {
		msg.Metadata = nil
	}
	if err := validateMetadata(msg.Metadata); err != nil {
		return fmt.Errorf("%w (after the BeforePublish hook added entries)", err)
	}
	return nil
}

// afterPublish runs the AfterPublish hook if BeforePublish ran.
func (d *Dispatcher) afterPublish(p *publishCtx, deliveries int, err error) {
	h := d.cfg.Hooks.AfterPublish
	if !p.began || h == nil {
		return
	}
	if err != nil {
		deliveries = 0
	}
	d.safeHook("AfterPublish", func() { h(p.ctx, p.msg, deliveries, err) })
}

// CombineHooks returns Hooks that call each set's hooks in the order given
// (for example the host's own hooks and an instrumentation's). Sets or
// hooks left nil are skipped. BeforePublish hooks are chained: each gets
// the context the previous one returned. A panic in one hook is recovered
// by the dispatcher and skips the hooks after it in that call.
func CombineHooks(sets ...Hooks) Hooks {
	var out Hooks
	var (
		before   []func(context.Context, *http.Request, *Delivery)
		after    []func(context.Context, *Delivery, *Attempt)
		failed   []func(context.Context, *Delivery)
		disabled []func(context.Context, *Endpoint, string)
		bpub     []func(context.Context, *Message) context.Context
		apub     []func(context.Context, *Message, int, error)
		failing  []func(context.Context, *Endpoint, *Attempt)
		recov    []func(context.Context, *Endpoint)
	)
	for _, h := range sets {
		if h.BeforeAttempt != nil {
			before = append(before, h.BeforeAttempt)
		}
		if h.AfterAttempt != nil {
			after = append(after, h.AfterAttempt)
		}
		if h.DeliveryFailed != nil {
			failed = append(failed, h.DeliveryFailed)
		}
		if h.EndpointDisabled != nil {
			disabled = append(disabled, h.EndpointDisabled)
		}
		if h.BeforePublish != nil {
			bpub = append(bpub, h.BeforePublish)
		}
		if h.AfterPublish != nil {
			apub = append(apub, h.AfterPublish)
		}
		if h.EndpointFailing != nil {
			failing = append(failing, h.EndpointFailing)
		}
		if h.EndpointRecovered != nil {
			recov = append(recov, h.EndpointRecovered)
		}
	}
	out.BeforeAttempt = chain(before, func(fs []func(context.Context, *http.Request, *Delivery)) func(context.Context, *http.Request, *Delivery) {
		return func(ctx context.Context, req *http.Request, d *Delivery) {
			for _, f := range fs {
				f(ctx, req, d)
			}
		}
	})
	out.AfterAttempt = chain(after, func(fs []func(context.Context, *Delivery, *Attempt)) func(context.Context, *Delivery, *Attempt) {
		return func(ctx context.Context, d *Delivery, a *Attempt) {
			for _, f := range fs {
				f(ctx, d, a)
			}
		}
	})
	out.DeliveryFailed = chain(failed, func(fs []func(context.Context, *Delivery)) func(context.Context, *Delivery) {
		return func(ctx context.Context, d *Delivery) {
			for _, f := range fs {
				f(ctx, d)
			}
		}
	})
	out.EndpointDisabled = chain(disabled, func(fs []func(context.Context, *Endpoint, string)) func(context.Context, *Endpoint, string) {
		return func(ctx context.Context, ep *Endpoint, reason string) {
			for _, f := range fs {
				f(ctx, ep, reason)
			}
		}
	})
	out.BeforePublish = chain(bpub, func(fs []func(context.Context, *Message) context.Context) func(context.Context, *Message) context.Context {
		return func(ctx context.Context, msg *Message) context.Context {
			for _, f := range fs {
				if c := f(ctx, msg); c != nil {
					ctx = c
				}
			}
			return ctx
		}
	})
	out.AfterPublish = chain(apub, func(fs []func(context.Context, *Message, int, error)) func(context.Context, *Message, int, error) {
		return func(ctx context.Context, msg *Message, n int, err error) {
			for _, f := range fs {
				f(ctx, msg, n, err)
			}
		}
	})
	out.EndpointFailing = chain(failing, func(fs []func(context.Context, *Endpoint, *Attempt)) func(context.Context, *Endpoint, *Attempt) {
		return func(ctx context.Context, ep *Endpoint, a *Attempt) {
			for _, f := range fs {
				f(ctx, ep, a)
			}
		}
	})
	out.EndpointRecovered = chain(recov, func(fs []func(context.Context, *Endpoint)) func(context.Context, *Endpoint) {
		return func(ctx context.Context, ep *Endpoint) {
			for _, f := range fs {
				f(ctx, ep)
			}
		}
	})
	return out
}

// chain returns nil for no hooks, the hook itself for one (no wrapper to
// pay for on every call), and all(fs) for several.
func chain[F any](fs []F, all func([]F) F) F {
	switch len(fs) {
	case 0:
		var none F
		return none
	case 1:
		return fs[0]
	}
	return all(fs)
}
