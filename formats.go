package webhook

import (
	"fmt"
	"slices"
)

// Per-endpoint body formats. A message's Payload holds the default body
// (Config.Envelope) and is stored once; an endpoint with a Format gets its
// body built at send time from the message and its event data, and that
// body is what is signed.

func validateFormats(fs map[string]EnvelopeFunc) error {
	for name, f := range fs {
		if name == "" || len(name) > MaxFormatLength {
			return invalid("Formats", "name %q must be 1 to %d characters", name, MaxFormatLength)
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				return invalid("Formats", "name %q may hold only letters, digits and _ - .", name)
			}
		}
		if f == nil {
			return invalid("Formats", "%q has a nil EnvelopeFunc", name)
		}
	}
	return nil
}

// FormatNames returns the names of Config.Formats, sorted: what
// Endpoint.Format may name besides "" (the default envelope).
func (d *Dispatcher) FormatNames() []string {
	names := make([]string, 0, len(d.cfg.Formats))
	for n := range d.cfg.Formats {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// body returns the HTTP body of msg for ep: the stored Payload, or the
// body of ep's Format.
func (d *Dispatcher) body(msg *Message, ep *Endpoint) ([]byte, error) {
	if ep.Format == "" {
		return msg.Payload, nil
	}
	f, ok := d.cfg.Formats[ep.Format]
	if !ok {
		return nil, fmt.Errorf("the endpoint's format %q is not registered in Config.Formats", ep.Format)
	}
	data, err := msg.EventData()
	if err != nil {
		return nil, err
	}
	b, err := f(msg, data)
	if err != nil {
		return nil, fmt.Errorf("format %q failed: %v", ep.Format, err)
	}
	return b, nil
}
