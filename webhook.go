package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is the library's version; it appears in the User-Agent of every
// delivery.
const Version = "0.1.0"

// UserAgent is the User-Agent header sent with every delivery.
const UserAgent = "hookline/" + Version + " (+https://github.com/hookline/webhook)"

// Header names hookline sets on every delivery besides the three Standard
// Webhooks headers.
const (
	// HeaderEventType carries the message's event type, for routing without
	// parsing the body.
	HeaderEventType = "Hookline-Event-Type"
	// HeaderAttempt carries the attempt number: 1 for the first attempt.
	HeaderAttempt = "Hookline-Attempt"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Event is anything the host publishes: a Go value with an event type. It is
// marshalled to JSON with encoding/json once per publish.
type Event interface {
	// EventType names the event, for example "reward.issued": full-stop
	// delimited parts of [a-zA-Z0-9_].
	EventType() string
}

// RawEvent is an Event whose JSON is already at hand. Data is sent as is and
// must be valid JSON.
type RawEvent struct {
	Type string
	Data json.RawMessage
}

// EventType returns e.Type.
func (e RawEvent) EventType() string { return e.Type }

// Message is what a publish stored: the event's type, its tenant and the body
// sent to every endpoint. Its ID is the webhook-id receivers dedupe on: the
// same on every attempt and every endpoint.
type Message struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Type   string `json:"event_type"`
	// Payload is the exact HTTP body sent (the envelope around the event's
	// JSON). It is stored once however many endpoints the message fans out
	// to; treat it as read-only.
	Payload json.RawMessage `json:"payload"`
	// Metadata is a small string map stored with the message (trace context,
	// the publisher's request id). It is never sent to receivers by default.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Channels are the message's channels (PublishOpts.Channels): an
	// endpoint with channels of its own receives it only if one matches.
	Channels []string `json:"channels,omitempty"`
	// OrderingKey is the message's PublishOpts.OrderingKey: on Ordered
	// endpoints, only deliveries of messages with the same key wait for
	// each other. "" is a key like any other.
	OrderingKey string `json:"ordering_key,omitempty"`
	// Data is the event's JSON, kept only when Payload does not hold it as
	// is (a Config.Envelope other than StandardEnvelope), so that endpoint
	// formats, filters and ReplayMissing can read it; nil otherwise. See
	// Message.EventData.
	Data      json.RawMessage `json:"-"`
	CreatedAt time.Time       `json:"created_at"`
}

// Endpoint is a subscriber URL of one tenant.
type Endpoint struct {
	ID          string `json:"id"`
	Tenant      string `json:"tenant"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// EventTypes lists the event types the endpoint receives. Empty means
	// every type; "*" matches every type; an entry ending in ".*" matches a
	// prefix ("reward.*" matches "reward.issued" and "reward.tier.changed").
	EventTypes []string `json:"event_types"`
	// Disabled endpoints receive no new deliveries.
	Disabled bool `json:"disabled"`
	// DisabledReason says why, when Disabled: set by DisableEndpoint or by
	// the dispatcher itself (for example after 410 Gone).
	DisabledReason string `json:"disabled_reason,omitempty"`
	// Secret signs deliveries: "whsec_" followed by base64 key bytes. Empty
	// on create: a new one is generated.
	Secret string `json:"-"`
	// PreviousSecret keeps signing beside Secret until
	// PreviousSecretExpiresAt, so receivers can switch during a rotation.
	PreviousSecret          string    `json:"-"`
	PreviousSecretExpiresAt time.Time `json:"-"`
	// SigningKey opts the endpoint into asymmetric Standard Webhooks
	// signatures: an ed25519 secret key "whsk_..." (see NewSigningKey).
	// When set, every delivery also carries a "v1a" signature, so the
	// receiver can verify with the public key alone (PublicKey gives it).
	// Empty: v1 (HMAC) signatures only. Dispatcher.SetSigningKey changes it.
	SigningKey string `json:"-"`
	// Headers are static headers sent with every delivery to this endpoint.
	// They cannot replace the signature, id, timestamp or content headers.
	Headers map[string]string `json:"headers,omitempty"`
	// RateLimit caps deliveries per second to this endpoint; 0 means no
	// limit beyond the dispatcher's per-endpoint concurrency cap.
	RateLimit float64 `json:"rate_limit,omitempty"`
	// Metadata is free-form data of the host's, stored and returned as is.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Channels limits the endpoint to messages carrying at least one of
	// these channels (PublishOpts.Channels). Empty: every message, with
	// channels or without. At most 32 names of 1 to 128 characters of
	// [A-Za-z0-9_.:-].
	Channels []string `json:"channels,omitempty"`
	// Filter is an expression over the message (its type, tenant,
	// channels, metadata and the event's data) that must hold for the
	// endpoint to get a delivery; "" lets everything through. It is
	// compiled by Config.Filter (the celfilter module: CEL) when the
	// endpoint is created or updated; without a FilterEngine a non-empty
	// Filter is refused.
	Filter string `json:"filter,omitempty"`
	// Format names the body format the endpoint receives, one of
	// Config.Formats; "" is the dispatcher's Config.Envelope (Standard
	// Webhooks by default).
	Format string `json:"format,omitempty"`
	// Ordered makes the endpoint's deliveries go out in the order their
	// messages were published, per PublishOpts.OrderingKey: a delivery is
	// sent only once the one before it with the same key has finished
	// (succeeded, or failed for good). Different keys go out in parallel;
	// with no keys the endpoint is one queue. It applies to deliveries
	// created while it is set; turning it off releases the waiting ones.
	// See the README's "Ordered delivery" for what a receiver can rely on.
	Ordered bool `json:"ordered,omitempty"`
	// FailingSince is when the endpoint's current run of failed attempts
	// began; zero while it is healthy. The dispatcher stores it once a run
	// has lasted a minute (so a flaky endpoint costs no write per failure)
	// and clears it at the next success or when the endpoint is enabled
	// again; a run longer than HealthPolicy.AutoDisableAfter disables the
	// endpoint. Stores persist it like any other field; callers' updates do
	// not change it.
	FailingSince time.Time `json:"failing_since,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Subscribes reports whether the endpoint wants messages of eventType (its
// enabled state aside).
func (ep *Endpoint) Subscribes(eventType string) bool {
	if len(ep.EventTypes) == 0 {
		return true
	}
	for _, t := range ep.EventTypes {
		switch {
		case t == "*" || t == eventType:
			return true
		case strings.HasSuffix(t, ".*"):
			if strings.HasPrefix(eventType, t[:len(t)-1]) {
				return true
			}
		}
	}
	return false
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// The delivery states. A pending delivery with Attempts > 0 is retrying.
const (
	StatePending   DeliveryState = "pending"
	StateSucceeded DeliveryState = "succeeded"
	StateFailed    DeliveryState = "failed"
)

// Valid reports whether s is one of the three states.
func (s DeliveryState) Valid() bool {
	return s == StatePending || s == StateSucceeded || s == StateFailed
}

// Delivery is one message to one endpoint.
type Delivery struct {
	ID         string        `json:"id"`
	MessageID  string        `json:"message_id"`
	EndpointID string        `json:"endpoint_id"`
	Tenant     string        `json:"tenant"`
	EventType  string        `json:"event_type"`
	State      DeliveryState `json:"state"`
	// Attempts counts the attempts made so far.
	Attempts int `json:"attempts"`
	// NextAttemptAt is when a pending delivery is due; zero once finished.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// LastAttemptAt, LastStatusCode and LastError describe the latest
	// attempt.
	LastAttemptAt  time.Time `json:"last_attempt_at"`
	LastStatusCode int       `json:"last_status_code,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
	// Ordered is set on deliveries created for an Ordered endpoint: the
	// delivery belongs to the queue (EndpointID, OrderingKey).
	Ordered bool `json:"ordered,omitempty"`
	// OrderingKey is the message's ordering key, for ordered deliveries.
	OrderingKey string `json:"ordering_key,omitempty"`
	// WaitingFor is, while an ordered delivery is pending behind the head
	// of its queue, the ID of that head (the delivery being sent or
	// retried); empty otherwise. Stores fill it in when they return a
	// delivery; it is not stored.
	WaitingFor string    `json:"waiting_for,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Attempt is one HTTP POST of a delivery.
type Attempt struct {
	ID         string `json:"id"`
	DeliveryID string `json:"delivery_id"`
	MessageID  string `json:"message_id"`
	EndpointID string `json:"endpoint_id"`
	// Number is 1 for the first attempt.
	Number    int           `json:"number"`
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"-"`
	// StatusCode is the HTTP status, 0 when no response came.
	StatusCode int `json:"status_code"`
	// Error says why the attempt failed: a transport error, a timeout, a
	// non-2xx status, a redirect not followed. Empty on success.
	Error string `json:"error,omitempty"`
	// Response is the start of the response body, at most
	// Config.ResponseBodyLimit bytes, as text.
	Response string `json:"response"`
	// RequestHeaders are the headers sent, signature included (the first
	// value of each).
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	// ResponseHeaders holds a few response headers worth keeping
	// (Location, Retry-After, Content-Type). Headers and Error together
	// keep at most AttemptHeaderLimit bytes, each value at most
	// AttemptValueLimit (a longer one is cut and marked).
	ResponseHeaders map[string]string `json:"response_headers,omitempty"`
}

// Succeeded reports whether the attempt got a 2xx answer.
func (a *Attempt) Succeeded() bool { return a.StatusCode >= 200 && a.StatusCode < 300 }

// MarshalJSON adds duration_ms to the attempt's JSON.
func (a Attempt) MarshalJSON() ([]byte, error) {
	type plain Attempt
	return json.Marshal(struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}{plain(a), float64(a.Duration.Microseconds()) / 1000})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (a *Attempt) UnmarshalJSON(b []byte) error {
	type plain Attempt
	var v struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*a = Attempt(v.plain)
	a.Duration = time.Duration(v.DurationMS * float64(time.Millisecond))
	return nil
}

// Errors. Check them with errors.Is; invalid input errors are also
// *ValidationError (errors.As).
var (
	// ErrInvalid marks bad input: nothing was changed.
	ErrInvalid = errors.New("hookline: invalid input")
	// ErrNotFound: no such endpoint, message or delivery.
	ErrNotFound = errors.New("hookline: not found")
	// ErrConflict: the object already exists or changed under the call.
	// Publish and PublishTx return it when the message ID is taken by
	// another tenant's message (message IDs are global); nothing is stored.
	ErrConflict = errors.New("hookline: conflict")
	// ErrDuplicate is returned by Store.InsertMessage when a message of the
	// same tenant with that ID is stored already; Publish turns it into an
	// idempotent success, PublishTx returns it.
	ErrDuplicate = errors.New("hookline: message already published")
	// ErrOutcomeUnknown: the store write of a publish was sent but its
	// answer was lost (the connection died after the commit was sent, or
	// the store's own timeout ended the write), so the message may or may
	// not be stored. Publishing again with the same PublishOpts.ID is the
	// safe answer: it stores the message if it is missing and returns the
	// stored one otherwise. Every other publish error means nothing was
	// stored.
	ErrOutcomeUnknown = errors.New("hookline: publish outcome unknown; publish again with the same ID")
	// ErrPayloadTooLarge: the marshalled event exceeds Config.MaxPayloadSize.
	ErrPayloadTooLarge = errors.New("hookline: payload too large")
	// ErrClosed: the dispatcher was shut down.
	ErrClosed = errors.New("hookline: dispatcher is shut down")
	// ErrTxUnsupported: PublishTx was given a transaction the store cannot
	// join.
	ErrTxUnsupported = errors.New("hookline: store does not support publishing in this transaction type")
)

// ValidationError says which input was wrong and why. It matches ErrInvalid
// with errors.Is.
type ValidationError struct {
	Field  string
	Reason string
}

// Error says which input was wrong and why, for example
// "hookline: invalid url: ...".
func (e *ValidationError) Error() string {
	return fmt.Sprintf("hookline: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
