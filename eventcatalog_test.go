package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/hookline/webhook"
	"github.com/hookline/webhook/webhooktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCatalog lists "order.created", whose data must be {"ok":true}.
type fakeCatalog struct{ plainErr bool }

func (fakeCatalog) HasEventType(t string) bool { return t == "order.created" }
func (f fakeCatalog) ValidateEventData(_ string, data json.RawMessage) error {
	if string(data) == `{"ok":true}` {
		return nil
	}
	if f.plainErr {
		return errors.New("at /ok: want true")
	}
	return &webhook.ValidationError{Field: "event data", Reason: "at /ok: want true"}
}

type orderCreated struct {
	OK bool `json:"ok"`
}

func (orderCreated) EventType() string { return "order.created" }

func TestStrictEvents(t *testing.T) {
	t.Parallel()
	for _, plain := range []bool{false, true} {
		d, err := webhook.New(webhook.Config{Events: fakeCatalog{plainErr: plain}})
		require.NoError(t, err)
		ctx := context.Background()
		for id, ev := range map[string]webhook.Event{
			"msg_unknown": webhook.RawEvent{Type: "order.deleted", Data: json.RawMessage(`{"ok":true}`)},
			"msg_bad":     webhook.RawEvent{Type: "order.created", Data: json.RawMessage(`{"ok":false}`)},
		} {
			_, err := d.Publish(ctx, ev, &webhook.PublishOpts{ID: id})
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve, id)
			assert.ErrorIs(t, err, webhook.ErrInvalid)
			_, err = d.GetMessage(ctx, id)
			assert.ErrorIs(t, err, webhook.ErrNotFound, "nothing stored")
		}
		_, err = d.Publish(ctx, webhook.RawEvent{Type: "order.created", Data: json.RawMessage(`{"ok":false}`)}, nil)
		assert.ErrorContains(t, err, "at /ok", "the catalog's path survives (plain error: %v)", plain)
		// A typed event is checked for its type only.
		_, err = d.Publish(ctx, orderCreated{OK: false}, nil)
		assert.NoError(t, err)
	}
}

func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	d, err := webhook.New(webhook.Config{AllowHTTP: true, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ctx := context.Background()
	ep := &webhook.Endpoint{URL: "http://127.0.0.1:9", Headers: map[string]string{"X-Team": "billing"}, EventTypes: []string{"other.type"}}
	require.NoError(t, d.CreateEndpoint(ctx, ep))
	rcv := webhooktest.NewReceiver(t, webhooktest.WithSecret(ep.Secret))
	ep.URL = rcv.URL
	require.NoError(t, d.UpdateEndpoint(ctx, ep))

	a, err := d.SendTestEvent(ctx, ep.ID, orderCreated{OK: true})
	require.NoError(t, err)
	assert.True(t, a.Succeeded())
	got := rcv.Deliveries()
	require.Len(t, got, 1, "sent whatever types the endpoint subscribes to")
	assert.True(t, got[0].Verified)
	assert.Equal(t, "order.created", got[0].EventType)
	assert.Equal(t, "true", got[0].Header.Get(webhook.HeaderTest))
	assert.Equal(t, "billing", got[0].Header.Get("X-Team"), "the endpoint's own headers still go")
	stored, err := d.GetEndpoint(ctx, ep.ID)
	require.NoError(t, err)
	assert.NotContains(t, stored.Headers, webhook.HeaderTest, "the endpoint itself is unchanged")
	assert.Equal(t, "true", a.RequestHeaders[webhook.HeaderTest])

	_, err = d.SendTestEvent(ctx, ep.ID, nil)
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	_, err = d.SendTestEvent(ctx, ep.ID, webhook.RawEvent{Type: "order.created", Data: json.RawMessage(`{`)})
	assert.ErrorIs(t, err, webhook.ErrInvalid)
	assert.Len(t, rcv.Deliveries(), 1)
}
