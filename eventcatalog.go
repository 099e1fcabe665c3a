package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
)

// EventCatalog is the list of event types a host declares, with a schema
// for each. Set Config.Events to one to make Publish strict: it then
// refuses an event type the catalog does not list and a RawEvent whose JSON
// does not match its type's schema. Typed events are checked for their type
// only: their JSON comes from their Go type, from which the catalog's
// schema was generated. The catalog module
// (github.com/hookline/webhook/catalog) implements it; so can a host's own
// type.
//
// Both methods are called on every Publish and must be safe for concurrent
// use.
type EventCatalog interface {
	// HasEventType reports whether eventType is in the catalog.
	HasEventType(eventType string) bool
	// ValidateEventData checks data, the JSON of a RawEvent of eventType,
	// against the type's schema. A mismatch is best a *ValidationError
	// naming the failing JSON path; any other error is wrapped in one.
	ValidateEventData(eventType string, data json.RawMessage) error
}

// checkCatalog applies Config.Events to an event about to be published:
// data is its marshalled JSON. Nil when no catalog is set.
func (d *Dispatcher) checkCatalog(ev Event, typ string, data json.RawMessage) error {
	cat := d.cfg.Events
	if cat == nil {
		return nil
	}
	if !cat.HasEventType(typ) {
		return invalid("event type", "%q is not in the event catalog (Config.Events): register it there, or publish a listed type", typ)
	}
	switch ev.(type) {
	case RawEvent, *RawEvent:
	default:
		return nil
	}
	err := cat.ValidateEventData(typ, data)
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return &ValidationError{Field: "event data", Reason: fmt.Sprintf("does not match the schema of %s: %v", typ, err)}
}
