package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/catalog"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type Unlisted struct{}

func (Unlisted) EventType() string { return "unlisted.event" }

func newStrict(t *testing.T) (*webhook.Dispatcher, *catalog.Catalog, *webhook.Endpoint) {
	t.Helper()
	c := catalog.New()
	require.NoError(t, c.Register(example(), catalog.Info{Description: "An invoice was paid."}))
	require.NoError(t, c.RegisterRaw("user.created",
		json.RawMessage(`{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"roles":{"type":"array","items":{"enum":["admin","member"]}}}}`),
		json.RawMessage(`{"id":"u_1","roles":["admin"]}`), catalog.Info{Description: "A user signed up."}))
	d, err := webhook.New(webhook.Config{Events: c, AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ep := &webhook.Endpoint{URL: "http://127.0.0.1:9/hooks"}
	require.NoError(t, d.CreateEndpoint(context.Background(), ep))
	return d, c, ep
}

func TestStrictPublish(t *testing.T) {
	t.Parallel()
	d, _, ep := newStrict(t)
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		ev   webhook.Event
		want []string
	}{
		{"unknown typed event", Unlisted{}, []string{`"unlisted.event" is not in the event catalog`}},
		{"unknown raw event", webhook.RawEvent{Type: "user.deleted", Data: json.RawMessage(`{}`)}, []string{"not in the event catalog"}},
		{"raw event, wrong value at a path", webhook.RawEvent{Type: "user.created", Data: json.RawMessage(`{"id":"u_2","roles":["admin","owner"]}`)},
			[]string{"event data", "user.created", "at /roles/1"}},
		{"raw event, missing property", &webhook.RawEvent{Type: "user.created", Data: json.RawMessage(`{"roles":[]}`)},
			[]string{"missing property 'id'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "msg_" + strings.NewReplacer(" ", "_", ",", "").Replace(tc.name)
			_, err := d.Publish(ctx, tc.ev, &webhook.PublishOpts{ID: id})
			require.Error(t, err)
			assert.ErrorIs(t, err, webhook.ErrInvalid)
			var ve *webhook.ValidationError
			require.True(t, errors.As(err, &ve), "a *ValidationError: %v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			_, err = d.GetMessage(ctx, id)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing stored")
		})
	}
	dl, _, err := d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID})
	require.NoError(t, err)
	assert.Empty(t, dl, "no delivery stored by a refused publish")

	// What the catalog lists goes through: typed events unchecked beyond
	// their type, raw events that match.
	_, err = d.Publish(ctx, example(), &webhook.PublishOpts{ID: "msg_ok_1"})
	require.NoError(t, err)
	_, err = d.Publish(ctx, webhook.RawEvent{Type: "user.created", Data: json.RawMessage(`{"id":"u_3"}`)}, &webhook.PublishOpts{ID: "msg_ok_2"})
	require.NoError(t, err)
	dl, _, err = d.ListDeliveries(ctx, webhook.DeliveryQuery{EndpointID: ep.ID})
	require.NoError(t, err)
	assert.Len(t, dl, 2)
}

func TestSendTestEventWithExample(t *testing.T) {
	t.Parallel()
	d, c, ep := newStrict(t)
	ctx := context.Background()
	rcv := webhooktest.NewReceiver(t, webhooktest.WithSecret(ep.Secret))
	ep.URL = rcv.URL
	require.NoError(t, d.UpdateEndpoint(ctx, ep))
	require.NoError(t, d.DisableEndpoint(ctx, ep.ID, "testing a disabled endpoint"))

	et, ok := c.Lookup("user.created")
	require.True(t, ok)
	a, err := d.SendTestEvent(ctx, ep.ID, webhook.RawEvent{Type: et.Name, Data: et.Example})
	require.NoError(t, err)
	assert.True(t, a.Succeeded(), a.Error)
	got := rcv.Deliveries()
	require.Len(t, got, 1)
	assert.True(t, got[0].Verified, "signed like a real delivery: %v", got[0].VerifyErr)
	assert.Equal(t, "user.created", got[0].EventType)
	assert.Equal(t, "true", got[0].Header.Get(webhook.HeaderTest), "marked as a test")
	var body struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got[0].Body, &body))
	assert.Equal(t, "user.created", body.Type)
	assert.JSONEq(t, string(et.Example), string(body.Data), "the type's example")
	msg, err := d.GetMessage(ctx, a.MessageID)
	require.NoError(t, err)
	assert.Equal(t, "true", msg.Metadata[webhook.MetadataTest])

	// The catalog applies: a raw event that does not match is not sent.
	_, err = d.SendTestEvent(ctx, ep.ID, webhook.RawEvent{Type: "user.created", Data: json.RawMessage(`{"id":1}`)})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	assert.Contains(t, err.Error(), "/id")
	assert.Len(t, rcv.Deliveries(), 1)
	_, err = d.SendTestEvent(ctx, "ep_nope", webhook.RawEvent{Type: et.Name, Data: et.Example})
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}
