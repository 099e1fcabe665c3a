package catalog

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hookline/webhook"
)

// DocInfo titles the receivers' OpenAPI document.
type DocInfo struct {
	// Title names the document, for example "Acme webhooks". Defaults to
	// "Webhooks".
	Title string
	// Version is the document's version (info.version), for example your
	// API's. Defaults to "1".
	Version string
	// Description comes first in info.description, before the section on
	// verifying signatures the document always carries. Markdown.
	Description string
}

// ExampleTimestamp is the timestamp the document's example bodies carry.
const ExampleTimestamp = "2026-01-02T15:04:05Z"

// verifyGuide is info.description's part on verifying deliveries.
const verifyGuide = `## Receiving and verifying webhooks

Every event arrives as an HTTP POST with a JSON body
` + "`" + `{"type": ..., "timestamp": ..., "data": ...}` + "`" + ` and three headers of the
[Standard Webhooks](https://www.standardwebhooks.com/) specification:

- ` + "`webhook-id`" + `: the message ID. The same on every retry of a message:
  use it to drop duplicates, since a message may arrive more than once.
- ` + "`webhook-timestamp`" + `: when this attempt was signed, in Unix seconds.
- ` + "`webhook-signature`" + `: one or more signatures separated by spaces, each
  ` + "`v1,<base64>`" + ` (HMAC-SHA256) or ` + "`v1a,<base64>`" + ` (Ed25519, when the endpoint has a
  signing key). During a secret rotation two v1 signatures are sent: accept
  the message when any one verifies.

To verify a v1 signature:

1. Build the signed content: the webhook-id, a full stop, the
   webhook-timestamp, a full stop, and the raw request body exactly as
   received (before any JSON parsing): ` + "`{id}.{timestamp}.{body}`" + `.
2. Take your endpoint's secret, drop its ` + "`whsec_`" + ` prefix and base64-decode the
   rest: that is the HMAC key.
3. Compute HMAC-SHA256 of the signed content with that key and base64-encode
   it; compare it with each v1 signature in constant time.
4. Refuse timestamps more than five minutes from your clock, so a captured
   request cannot be replayed later.

Standard Webhooks libraries exist for most languages and do all of this.
Answer with any 2xx status within a few seconds to acknowledge; any other
answer, or none, is retried later with growing delays. Also sent:
` + "`Hookline-Event-Type`" + ` (the event type), ` + "`Hookline-Attempt`" + ` (1 for the first attempt)
and, on test events sent from the dashboard, ` + "`Hookline-Test: true`" + `.`

// OpenAPI returns an OpenAPI 3.1 document for receivers: its webhooks
// section has one entry per registered type (keyed by the type's name),
// with the body's schema and an example, the Standard Webhooks headers, the
// type's group as a tag and its deprecation; info.description explains how
// to verify a delivery's signature. The body schemas are also in
// components.schemas under the types' names. A host serves it (the admin
// handler does, given admin.Options.WebhooksOpenAPI) or writes it out at
// build time to publish its webhook docs.
func (c *Catalog) OpenAPI(info DocInfo) ([]byte, error) {
	if info.Title == "" {
		info.Title = "Webhooks"
	}
	if info.Version == "" {
		info.Version = "1"
	}
	desc := verifyGuide
	if info.Description != "" {
		desc = strings.TrimSpace(info.Description) + "\n\n" + verifyGuide
	}
	type obj = map[string]any
	headers := obj{}
	var params []any
	for _, h := range []struct {
		name, desc, format string
		required           bool
	}{
		{webhook.HeaderID, "The message ID, the same on every attempt: drop messages whose ID you have seen.", "", true},
		{webhook.HeaderTimestamp, "When the attempt was signed, in Unix seconds. Refuse it when more than five minutes from your clock.", "", true},
		{webhook.HeaderSignature, "Space-separated signatures, `v1,<base64 HMAC-SHA256>` (and `v1a,<base64 Ed25519>` with a signing key) of `{webhook-id}.{webhook-timestamp}.{body}`. Accept when one verifies.", "", true},
		{webhook.HeaderEventType, "The event type, for routing without parsing the body.", "", true},
		{webhook.HeaderAttempt, "The attempt number, 1 for the first.", "", true},
		{webhook.HeaderTest, "`true` on test events sent from the dashboard; absent otherwise.", "", false},
	} {
		schema := obj{"type": "string"}
		switch h.name {
		case webhook.HeaderTimestamp:
			schema = obj{"type": "string", "pattern": "^[0-9]+$"}
		case webhook.HeaderAttempt:
			schema = obj{"type": "string", "pattern": "^[1-9][0-9]*$"}
		case webhook.HeaderTest:
			schema = obj{"type": "string", "enum": []string{"true"}}
		case webhook.HeaderSignature:
			schema = obj{"type": "string", "pattern": `^v1a?,[A-Za-z0-9+/=]+( v1a?,[A-Za-z0-9+/=]+)*$`}
		}
		key := strings.ToLower(h.name)
		headers[key] = obj{"name": h.name, "in": "header", "required": h.required, "description": h.desc, "schema": schema}
		params = append(params, obj{"$ref": "#/components/parameters/" + key})
	}

	schemas := obj{}
	hooks := obj{}
	var tags []any
	seenTag := map[string]bool{}
	for _, t := range c.Types() {
		var schema any
		if err := json.Unmarshal(t.Schema, &schema); err != nil {
			return nil, fmt.Errorf("catalog: %s's schema: %w", t.Name, err)
		}
		schemas[t.Name] = schema
		example := obj{"type": t.Name, "timestamp": ExampleTimestamp, "data": t.Example}
		d := t.Description
		if t.Version != "" {
			d += "\n\nPayload version " + t.Version + "."
		}
		if t.Deprecated != "" {
			d += "\n\n**Deprecated:** " + t.Deprecated
		}
		op := obj{
			"operationId": t.Name,
			"summary":     t.Name,
			"description": strings.TrimSpace(d),
			"parameters":  params,
			"security":    []any{obj{"standardWebhooks": []any{}}},
			"requestBody": obj{
				"required": true,
				"content": obj{"application/json": obj{
					"schema":  obj{"$ref": "#/components/schemas/" + t.Name},
					"example": example,
				}},
			},
			"responses": obj{
				"2XX":     obj{"description": "Received. Answer within a few seconds; do the work after answering."},
				"default": obj{"description": "Any other status, or no answer, is retried later."},
			},
		}
		if t.Group != "" {
			op["tags"] = []string{t.Group}
			if !seenTag[t.Group] {
				seenTag[t.Group] = true
				tags = append(tags, obj{"name": t.Group})
			}
		}
		if t.Deprecated != "" {
			op["deprecated"] = true
		}
		if t.Version != "" {
			op["x-event-version"] = t.Version
		}
		hooks[t.Name] = obj{"post": op}
	}
	doc := struct {
		OpenAPI    string `json:"openapi"`
		Info       obj    `json:"info"`
		Tags       []any  `json:"tags,omitempty"`
		Paths      obj    `json:"paths"`
		Webhooks   obj    `json:"webhooks"`
		Components obj    `json:"components"`
	}{
		OpenAPI:  "3.1.0",
		Info:     obj{"title": info.Title, "version": info.Version, "description": desc},
		Tags:     tags,
		Paths:    obj{},
		Webhooks: hooks,
		Components: obj{
			"schemas":    schemas,
			"parameters": headers,
			"securitySchemes": obj{"standardWebhooks": obj{
				"type": "apiKey", "in": "header", "name": webhook.HeaderSignature,
				"description": "Standard Webhooks signature of `{webhook-id}.{webhook-timestamp}.{body}`; see the document's description.",
			}},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}
