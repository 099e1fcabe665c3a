package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// attempt sends one claimed delivery and works out its record. It returns a
// nil Attempt when no request was made (endpoint gone or disabled) or when
// ctx was cancelled by Shutdown before an answer came.
func (d *Dispatcher) attempt(ctx context.Context, c *Claimed) (Record, *Delivery, *Attempt) {
	now := d.cfg.Now()
	del := c.Delivery
	rec := Record{DeliveryID: del.ID, Lease: c.Lease}
	ep := c.Endpoint
	if ep == nil || ep.Disabled {
		reason := "endpoint deleted"
		if ep != nil {
			reason = "endpoint disabled"
			if ep.DisabledReason != "" {
				reason += ": " + ep.DisabledReason
			}
		}
		rec.Now, rec.State, rec.Error = now, StateFailed, reason
		del.State, del.LastError, del.NextAttemptAt = StateFailed, reason, time.Time{}
		return rec, del, nil
	}
	a, cause := d.sendCause(ctx, c, now)
	if a == nil {
		rec.Now, rec.State, rec.NextAttemptAt = d.cfg.Now(), StatePending, d.cfg.Now()
		return rec, del, nil
	}
	rec.Attempt = a
	rec.Now = d.cfg.Now()
	del.Attempts = a.Number
	del.LastAttemptAt, del.LastStatusCode, del.LastError = a.StartedAt, a.StatusCode, a.Error
	switch {
	case a.Succeeded():
		rec.State = StateSucceeded
	default:
		rec.State, rec.NextAttemptAt = d.nextAttempt(a, cause, rec.Now)
	}
	if a.StatusCode == http.StatusGone {
		d.disableEndpoint(ctx, ep.ID, "the endpoint answered 410 Gone")
	}
	del.State, del.NextAttemptAt, del.UpdatedAt = rec.State, rec.NextAttemptAt, rec.Now
	return rec, del, a
}

// nextAttempt applies the retry policy to a failed attempt; cause is the
// failure as sendCause returned it (a *StatusError when an answer came).
func (d *Dispatcher) nextAttempt(a *Attempt, cause error, now time.Time) (DeliveryState, time.Time) {
	p := d.cfg.Retry
	if cause == nil && a.Error != "" {
		cause = errors.New(a.Error)
	}
	if !p.Retryable(a.StatusCode, cause) {
		return StateFailed, time.Time{}
	}
	delay, ok := p.Delay(a.Number)
	if !ok {
		return StateFailed, time.Time{}
	}
	if a.StatusCode == http.StatusTooManyRequests || a.StatusCode == http.StatusServiceUnavailable {
		var se *StatusError
		if errors.As(cause, &se) {
			if ra, ok := ParseRetryAfter(se.Header.Get("Retry-After"), now); ok {
				delay = max(delay, min(ra, p.MaxRetryAfter))
			}
		}
	}
	return StatePending, now.Add(delay)
}

// send performs the HTTP request of an attempt.
func (d *Dispatcher) send(ctx context.Context, c *Claimed, now time.Time) *Attempt {
	a, _ := d.sendCause(ctx, c, now)
	return a
}

// sendCause performs the HTTP request of an attempt and returns, beside it,
// why it failed: the error building the request, the client's error (a
// *url.Error around a timeout, a refused connection, ErrAddressNotAllowed),
// or a *StatusError for an answer other than 2xx; nil on success. The
// Attempt is nil when Shutdown cut the request off.
func (d *Dispatcher) sendCause(ctx context.Context, c *Claimed, now time.Time) (*Attempt, error) {
	del, msg, ep := c.Delivery, c.Message, c.Endpoint
	a := &Attempt{
		ID: d.ids.newID("att_"), DeliveryID: del.ID, MessageID: msg.ID, EndpointID: ep.ID,
		Number: del.Attempts + 1, StartedAt: now,
	}
	actx, cancel := context.WithTimeout(ctx, d.cfg.AttemptTimeout)
	defer cancel()
	req, body, err := d.newRequest(actx, c, now, a.Number)
	if err != nil {
		a.Error = cut(err.Error(), 2*AttemptValueLimit)
		return a, err
	}
	if d.cfg.Hooks.BeforeAttempt != nil {
		signed := signedParts(req)
		hctx := withClaim(actx, c)
		d.safeHook("BeforeAttempt", func() { d.cfg.Hooks.BeforeAttempt(hctx, req, del) })
		signed.restore(req, body)
	}
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		a.Duration = time.Since(start)
		if ctx.Err() != nil { // Shutdown cut it off: not an attempt of the receiver's making
			return nil, err
		}
		a.Error = describeError(err, d.cfg.AttemptTimeout)
		keepHeaders(a, req.Header, nil)
		d.debug(ctx, "hookline: attempt failed", a, msg, "error", a.Error)
		return a, err
	}
	respBody, rerr := d.readResponse(resp.Body)
	resp.Body.Close()
	a.Duration = time.Since(start)
	a.StatusCode = resp.StatusCode
	a.Response = respBody
	var cause error
	switch {
	case a.Succeeded():
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = redirectError(resp.StatusCode, resp.Header.Get("Location"))
		cause = &StatusError{Code: resp.StatusCode, Header: resp.Header}
	default:
		a.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
		cause = &StatusError{Code: resp.StatusCode, Header: resp.Header}
	}
	keepHeaders(a, req.Header, resp.Header)
	if rerr != nil && a.Succeeded() {
		d.debug(ctx, "hookline: reading the response failed after a 2xx", a, msg, "error", rerr)
	}
	d.debug(ctx, "hookline: attempt made", a, msg, "status", a.StatusCode, "duration", a.Duration)
	return a, cause
}

// debug logs an attempt at debug level, building its attributes only when
// the level is enabled.
func (d *Dispatcher) debug(ctx context.Context, text string, a *Attempt, m *Message, kv ...any) {
	if !d.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	d.log.Debug(text, attemptAttrs(a, m, kv...)...)
}

func attemptAttrs(a *Attempt, msg *Message, kv ...any) []any {
	return logAttrs(a.DeliveryID, a.EndpointID, a.MessageID, a.Number, msg, kv...)
}

// newRequest builds the signed POST of an attempt and returns it with its
// body (the message's Payload, or the endpoint's Format of it).
func (d *Dispatcher) newRequest(ctx context.Context, c *Claimed, now time.Time, number int) (*http.Request, []byte, error) {
	msg, ep := c.Message, c.Endpoint
	body, err := d.body(msg, ep)
	if err != nil {
		return nil, nil, fmt.Errorf("building the body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytesReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("building the request: %w", err)
	}
	sig, err := signatureHeader(ep, msg.ID, now, body)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	h := req.Header
	for k, v := range ep.Headers {
		h.Set(k, v)
	}
	// One backing array for the seven values; the keys are canonical.
	vals := [...]string{"application/json", UserAgent, msg.ID, strconv.FormatInt(now.Unix(), 10), sig, msg.Type, strconv.Itoa(number)}
	v := vals[:]
	h["Content-Type"] = v[0:1:1]
	h["User-Agent"] = v[1:2:2]
	h["Webhook-Id"] = v[2:3:3]
	h["Webhook-Timestamp"] = v[3:4:4]
	h["Webhook-Signature"] = v[4:5:5]
	h["Hookline-Event-Type"] = v[5:6:6]
	h["Hookline-Attempt"] = v[6:7:7]
	return req, body, nil
}

// signedHeaders are the headers hookline sets from the message and the
// attempt, put back after BeforeAttempt: the webhook-* headers a receiver
// verifies, the Hookline-* ones it routes and counts on, and Content-Type
// (the signed body is JSON).
var signedHeaders = [...]string{"Content-Type", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", HeaderEventType, HeaderAttempt}

// signed holds the values of signedHeaders as newRequest set them.
type signed [len(signedHeaders)][]string

func signedParts(req *http.Request) signed {
	var s signed
	for i, k := range signedHeaders {
		s[i] = req.Header[k]
	}
	return s
}

// restore undoes what a hook did to the signed headers (a key written in
// another case included: the transport would send it as well) and to the
// body, which the signature covers.
func (s *signed) restore(req *http.Request, body []byte) {
	if req.Header == nil {
		req.Header = http.Header{}
	}
	for k := range req.Header {
		if ck := http.CanonicalHeaderKey(k); ck != k && signedHeader(ck) {
			delete(req.Header, k)
		}
	}
	for i, k := range signedHeaders {
		req.Header[k] = s[i]
	}
	req.Body, req.ContentLength = io.NopCloser(bytesReader(body)), int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytesReader(body)), nil }
}

func signedHeader(canonical string) bool {
	for _, k := range signedHeaders {
		if k == canonical {
			return true
		}
	}
	return false
}

// readResponse returns at most limit bytes of r as text, then discards up
// to 64 KiB more so the connection can be reused. Its buffer comes from a
// pool: one allocation per attempt is the string it returns.
func (d *Dispatcher) readResponse(r io.Reader) (string, error) {
	limit := d.cfg.ResponseBodyLimit
	bp, _ := d.bufs.Get().(*[]byte)
	if bp == nil || cap(*bp) < limit {
		b := make([]byte, limit)
		bp = &b
	}
	defer d.bufs.Put(bp)
	buf := (*bp)[:limit]
	n, err := io.ReadFull(r, buf)
	switch err {
	case nil:
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	case io.EOF, io.ErrUnexpectedEOF:
		err = nil
	}
	return string(buf[:n]), err
}

func describeError(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timeout: no complete answer within %s", timeout)
	case errors.Is(err, ErrAddressNotAllowed):
		return ErrAddressNotAllowed.Error()
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
