package webhook

import (
	"context"
	"fmt"
	"net/http"
)

// Limits of a message's Metadata, hooks' entries included: at most
// MaxMetadata entries, each at most MaxMetadataEntry bytes (key and value
// together).
const (
	MaxMetadata      = maxMetadata
	MaxMetadataEntry = maxMetadataLen
)

// publishCtx carries a publish's context through its steps, so the
// context BeforePublish returned reaches the store calls and AfterPublish.
type publishCtx struct {
	ctx   context.Context
	msg   *Message // set once BeforePublish ran
	began bool
	// match, when set, finds the subscribers instead of d.subscribers.
	match func(ctx context.Context, tenant, typ string) ([]*Endpoint, error)
}

// beforePublish gives msg a Metadata map of its own and runs the
// BeforePublish hook. Entries the hook adds obey the same limits as the
// caller's.
func (d *Dispatcher) beforePublish(p *publishCtx, msg *Message) error {
	h := d.cfg.Hooks.BeforePublish
	if h == nil {
		return nil
	}
	md := make(map[string]string, len(msg.Metadata)) // no room reserved: a hook that adds nothing costs no table
	for k, v := range msg.Metadata {
		md[k] = v
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
