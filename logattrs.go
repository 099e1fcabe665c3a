package webhook

// MetadataTraceParent is the Message.Metadata key holding the W3C
// traceparent of the publish (written by a BeforePublish hook such as
// otelwebhook's). The dispatcher only reads it, to put the trace ID in its
// logs.
const MetadataTraceParent = "traceparent"

// logAttrs are the attributes of every log record about a delivery: its
// ID, endpoint, message, attempt number and, when the message carries a
// traceparent, the trace ID. Never a secret or a payload.
func logAttrs(deliveryID, endpointID, messageID string, attempt int, msg *Message, kv ...any) []any {
	out := make([]any, 0, 10+len(kv))
	out = append(out, "delivery_id", deliveryID, "endpoint_id", endpointID, "message_id", messageID, "attempt", attempt)
	if msg != nil {
		if id := traceIDOf(msg.Metadata[MetadataTraceParent]); id != "" {
			out = append(out, "trace_id", id)
		}
	}
	return append(out, kv...)
}

// claimAttrs are logAttrs for a claimed delivery; attempt is the number of
// the attempt concerned (the attempts made so far when none was made).
func claimAttrs(c *Claimed, attempt int, kv ...any) []any {
	return logAttrs(c.Delivery.ID, c.Delivery.EndpointID, c.Message.ID, attempt, c.Message, kv...)
}

// recordAttrs are logAttrs for a record of claim c.
func recordAttrs(r Record, c *Claimed) []any {
	n := c.Delivery.Attempts
	if r.Attempt != nil {
		n = r.Attempt.Number
	}
	return claimAttrs(c, n)
}

// traceIDOf returns the trace ID of a W3C traceparent
// ("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"), or "" when tp
// is not one or its trace ID is all zeros.
func traceIDOf(tp string) string {
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	id := tp[3:35]
	zero := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
		if c != '0' {
			zero = false
		}
	}
	if zero {
		return ""
	}
	return id
}
