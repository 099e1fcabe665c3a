package webhook

import "unicode/utf8"

// Limits of a message's Metadata, hooks' entries included.
const (
	// MaxMetadata is the most entries a Metadata map may hold.
	MaxMetadata = 16
	// MaxMetadataEntry is the most bytes of one Metadata entry, its key
	// and value together.
	MaxMetadataEntry = 1024
)

const (
	maxIDLen       = 128
	maxTenantLen   = 256
	maxEventType   = 256
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
	if !utf8.ValidString(t) {
		return invalid("tenant", "not valid UTF-8")
	}
	for _, r := range t {
		if r < 0x20 || r == 0x7f {
			return invalid("tenant", "holds a control character")
		}
	}
	return nil
}

func validateMetadata(m map[string]string) error {
	if len(m) > maxMetadata {
		return invalid("metadata", "%d entries; at most %d", len(m), maxMetadata)
	}
	for k, v := range m {
		if len(k)+len(v) > maxMetadataLen || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return invalid("metadata", "entry %q is longer than %d bytes or not UTF-8", k, maxMetadataLen)
		}
	}
	return nil
}
