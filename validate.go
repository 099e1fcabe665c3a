package webhook

import (
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what hookline stores. Input past them gets a *ValidationError
// naming the field (errors.Is(err, ErrInvalid) holds) and nothing of the
// call is stored, whatever the Store. Besides these bounds, every string
// must be valid UTF-8 without NUL bytes: free text (an endpoint's
// Description and DisabledReason, a DisableEndpoint reason, Metadata
// values) may hold tab, newline and carriage return but no other control
// character; names (Metadata keys, tenants) hold no control character at
// all.
const (
	// MaxIDLength is the most bytes of a message or endpoint ID.
	MaxIDLength = 128
	// MaxTenantLength is the most bytes of a tenant.
	MaxTenantLength = 256
	// MaxEventTypeLength is the most bytes of an event type.
	MaxEventTypeLength = 256
	// MaxEventTypes is the most entries of an endpoint's EventTypes.
	MaxEventTypes = 256
	// MaxURLLength is the most bytes of an endpoint URL.
	MaxURLLength = 2048
	// MaxDescriptionLength is the most bytes of an endpoint's Description
	// and DisabledReason, and of a DisableEndpoint reason.
	MaxDescriptionLength = 1024
	// MaxHeaders is the most static headers an endpoint may have.
	MaxHeaders = 32
	// MaxHeaderEntry is the most bytes of one static header, its name and
	// value together.
	MaxHeaderEntry = 8192
	// MaxMetadata is the most entries a Metadata map may hold (a message's,
	// hooks' entries included, or an endpoint's).
	MaxMetadata = 16
	// MaxMetadataEntry is the most bytes of one Metadata entry, its key
	// and value together.
	MaxMetadataEntry = 1024
	// MaxOrderingKey is the most bytes of a PublishOpts.OrderingKey.
	MaxOrderingKey = 256
)

// Bounds of Endpoint.RateLimit, in deliveries per second; 0 means no rate
// limit. NaN, infinities and negative rates are refused too. The minimum,
// one delivery an hour, keeps the rate limiter's waits short enough that
// no due time it computes can overflow; the maximum is beyond what one
// endpoint can take, so a larger rate means no limit: give 0.
const (
	MinRateLimit = 1.0 / 3600
	MaxRateLimit = 1e6
)

const (
	maxIDLen       = MaxIDLength
	maxTenantLen   = MaxTenantLength
	maxEventType   = MaxEventTypeLength
	maxMetadata    = MaxMetadata
	maxMetadataLen = MaxMetadataEntry
)

// validID reports whether s is 1..128 characters of [A-Za-z0-9_-].
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateEventType reports whether t is a valid event type: full-stop
// delimited, non-empty parts of [a-zA-Z0-9_], at most 256 characters.
func ValidateEventType(t string) error {
	if t == "" {
		return invalid("event type", "empty; name the event, for example \"reward.issued\"")
	}
	if len(t) > maxEventType {
		return invalid("event type", "longer than %d characters", maxEventType)
	}
	part := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			if part == 0 {
				return invalid("event type", "%q has an empty part; use full-stop delimited names such as \"reward.issued\"", t)
			}
			part = 0
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_':
			part++
		default:
			return invalid("event type", "%q may hold only letters, digits, _ and full stops", t)
		}
	}
	if part == 0 {
		return invalid("event type", "%q ends with a full stop", t)
	}
	return nil
}

func validateTenant(t string) error {
	if len(t) > maxTenantLen {
		return invalid("tenant", "longer than %d bytes", maxTenantLen)
	}
	return checkName("tenant", "", t)
}

// validateOrderingKey checks a PublishOpts.OrderingKey: at most
// MaxOrderingKey bytes of valid UTF-8 without control characters ("" is
// valid: the queue of messages without a key).
func validateOrderingKey(k string) error {
	if len(k) > MaxOrderingKey {
		return invalid("OrderingKey", "%d bytes; at most %d (use an ID, such as the customer's, not a document)", len(k), MaxOrderingKey)
	}
	return checkName("OrderingKey", "", k)
}

// validateMetadata checks a Metadata map: at most MaxMetadata entries, each
// a non-empty name and a text value of at most MaxMetadataEntry bytes
// together.
func validateMetadata(m map[string]string) error {
	if len(m) > maxMetadata {
		return invalid("metadata", "%d entries; at most %d", len(m), maxMetadata)
	}
	for k, v := range m {
		if len(k)+len(v) > maxMetadataLen {
			return invalid("metadata", "the entry %s is %d bytes, key and value together; at most %d", clip(k), len(k)+len(v), maxMetadataLen)
		}
		if k == "" {
			return invalid("metadata", "an empty key; give each entry a name")
		}
		if err := checkName("metadata", "the key "+clip(k)+" ", k); err != nil {
			return err
		}
		if err := checkText("metadata", "the value of "+clip(k)+" ", v); err != nil {
			return err
		}
	}
	return nil
}

// validateText checks free text of at most limit bytes: valid UTF-8, no
// control character but tab, newline and carriage return.
func validateText(field, s string, limit int) error {
	if len(s) > limit {
		return invalid(field, "%d bytes; at most %d", len(s), limit)
	}
	return checkText(field, "", s)
}

// checkText refuses invalid UTF-8 and control characters other than tab,
// newline and carriage return; what names the part of the field checked
// ("" for all of it).
func checkText(field, what, s string) error {
	if !utf8.ValidString(s) {
		return invalid(field, "%sis not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return invalid(field, "%sholds the control character %U; only tab, newline and carriage return are allowed", what, r)
		}
	}
	return nil
}

// checkName refuses invalid UTF-8 and every control character.
func checkName(field, what, s string) error {
	if !utf8.ValidString(s) {
		return invalid(field, "%sis not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid(field, "%sholds the control character %U; remove it", what, r)
		}
	}
	return nil
}

// validateRateLimit checks Endpoint.RateLimit against MinRateLimit and
// MaxRateLimit.
func validateRateLimit(r float64) error {
	const want = "give 0 for no limit, or deliveries per second from 1/3600 (one an hour) to 1e6"
	switch {
	case r == 0:
		return nil
	case math.IsNaN(r) || math.IsInf(r, 0):
		return invalid("rate limit", "%v is not a rate; %s", r, want)
	case r < 0:
		return invalid("rate limit", "%g is negative; %s", r, want)
	case r < MinRateLimit:
		return invalid("rate limit", "%g per second is below the minimum; %s", r, want)
	case r > MaxRateLimit:
		return invalid("rate limit", "%g per second is above the maximum; %s", r, want)
	}
	return nil
}

// lookupID answers ErrNotFound for an ID no store can hold (not valid
// UTF-8, or holding a control character), so every store answers such a
// lookup alike and none is asked to compare text it cannot store.
func lookupID(kind, id string) error {
	if checkName("", "", id) != nil {
		return fmt.Errorf("%w: %s %s", ErrNotFound, kind, clip(id))
	}
	return nil
}

// clip quotes s for an error message, cut to its first 64 bytes.
func clip(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q...", s[:64])
	}
	return fmt.Sprintf("%q", s)
}

// Times every store can hold: Postgres's timestamptz ends in the year
// 294276, Go's time.Time goes much further; RFC 3339 covers years 1 to 9999.
var (
	minStoredTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxStoredTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// validateTime refuses a time outside the years 1 to 9999 (the zero time is
// year 1, so it passes), so that no store is asked to compare a time it
// cannot hold.
func validateTime(field string, t time.Time) error {
	if t.Before(minStoredTime) || t.After(maxStoredTime) {
		return invalid(field, "%s is outside the years 1 to 9999", t.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkNames runs checkName over field, value pairs: the strings of a list
// or stats query, which must be text a store can hold.
func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(pairs[i], "", pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}
