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
	if len(before) > 0 {
		out.BeforeAttempt = func(ctx context.Context, req *http.Request, d *Delivery) {
			for _, f := range before {
				f(ctx, req, d)
			}
		}
	}
	if len(after) > 0 {
		out.AfterAttempt = func(ctx context.Context, d *Delivery, a *Attempt) {
			for _, f := range after {
				f(ctx, d, a)
			}
		}
	}
	if len(failed) > 0 {
		out.DeliveryFailed = func(ctx context.Context, d *Delivery) {
			for _, f := range failed {
				f(ctx, d)
			}
		}
	}
	if len(disabled) > 0 {
		out.EndpointDisabled = func(ctx context.Context, ep *Endpoint, reason string) {
			for _, f := range disabled {
				f(ctx, ep, reason)
			}
		}
	}
	if len(bpub) > 0 {
		out.BeforePublish = func(ctx context.Context, msg *Message) context.Context {
			for _, f := range bpub {
				if c := f(ctx, msg); c != nil {
					ctx = c
				}
			}
			return ctx
		}
	}
	if len(apub) > 0 {
		out.AfterPublish = func(ctx context.Context, msg *Message, n int, err error) {
			for _, f := range apub {
				f(ctx, msg, n, err)
			}
		}
	}
	return out
}
