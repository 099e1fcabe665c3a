package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notify implements webhook.Notifier. The returned channel receives
// (without blocking: one pending signal at most) when another instance
// published, and whenever the listener (re)connects, since notifications
// may have been missed while it was away. The subscription ends with ctx.
//
// All subscriptions share one listener goroutine on a dedicated connection
// (Options.ListenConfig, else the pool's settings; not taken from the
// pool), started by
// the first subscription and stopped when the last one ends or the store
// is closed. On a lost connection it reconnects with a backoff of up to 10
// seconds; the dispatcher's poll interval covers the gap.
func (s *Store) Notify(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	if !s.notify {
		return ch
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.closed || ctx.Err() != nil {
		return ch
	}
	s.subs[ch] = struct{}{}
	if s.stopListn == nil {
		lctx, cancel := context.WithCancel(context.Background())
		s.stopListn = cancel
		s.listeners.Add(1)
		go func() {
			defer s.listeners.Done()
			s.listen(lctx)
		}()
	}
	context.AfterFunc(ctx, func() {
		s.lmu.Lock()
		defer s.lmu.Unlock()
		delete(s.subs, ch)
		if len(s.subs) == 0 && s.stopListn != nil {
			s.stopListn()
			s.stopListn = nil
		}
	})
	return ch
}

// broadcast signals every subscriber.
func (s *Store) broadcast() {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// listen holds a LISTEN connection until ctx ends, reconnecting on errors.
func (s *Store) listen(ctx context.Context) {
	const minWait, maxWait = 100 * time.Millisecond, 10 * time.Second
	wait := minWait
	for {
		err := s.listenOnce(ctx, func() { wait = minWait })
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("hookline pgstore: LISTEN connection lost; reconnecting (polling covers the gap)",
			"error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// listenOnce connects, listens and relays notifications until an error or
// ctx ends. connected runs once LISTEN is in place.
func (s *Store) listenOnce(ctx context.Context, connected func()) error {
	cfg := s.listenCfg
	if cfg == nil {
		cfg = s.pool.Config().ConnConfig
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	s.setListening(true)
	defer s.setListening(false)
	s.broadcast() // anything published while we were not listening
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == endpointsChanged {
			s.matches.invalidate(true)
			continue
		}
		s.broadcast()
	}
}

// setListening records whether the LISTEN is in place; either way the
// match cache starts over, since notifications may have been missed.
func (s *Store) setListening(on bool) {
	s.lmu.Lock()
	s.listening = on
	s.lmu.Unlock()
	s.matches.invalidate(on)
}
