package webhook_test

import (
	"errors"
	"testing"
	"time"

	webhook "github.com/hookline/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigErrorsNameTheField checks that New refuses each bad field with
// a *ValidationError naming that field and its value.
func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		cfg   webhook.Config
		value string
	}{
		{"Workers", webhook.Config{Workers: -1}, "-1"},
		{"MaxInFlightPerEndpoint", webhook.Config{MaxInFlightPerEndpoint: -2}, "-2"},
		{"ClaimBatch", webhook.Config{ClaimBatch: -3}, "-3"},
		{"AttemptTimeout", webhook.Config{AttemptTimeout: -time.Second}, "-1s"},
		{"Lease", webhook.Config{Lease: -2 * time.Second}, "-2s"},
		{"Lease", webhook.Config{AttemptTimeout: time.Minute, Lease: time.Minute}, "1m0s"},
		{"PollInterval", webhook.Config{PollInterval: -3 * time.Second}, "-3s"},
		{"MaxPayloadSize", webhook.Config{MaxPayloadSize: -4}, "-4"},
		{"ResponseBodyLimit", webhook.Config{ResponseBodyLimit: -5}, "-5"},
		{"MaxResponseHeaderBytes", webhook.Config{MaxResponseHeaderBytes: -6}, "-6"},
		{"Retry.MaxAttempts", webhook.Config{Retry: webhook.RetryPolicy{MaxAttempts: -7}}, "-7"},
		{"Retry.MaxRetryAfter", webhook.Config{Retry: webhook.RetryPolicy{MaxRetryAfter: -time.Minute}}, "-1m0s"},
		{"Health.BreakerThreshold", webhook.Config{Health: webhook.HealthPolicy{BreakerThreshold: -8}}, "-8"},
		{"Health.BreakerCooldown", webhook.Config{Health: webhook.HealthPolicy{BreakerCooldown: -time.Hour}}, "-1h0m0s"},
		{"Health.BreakerMaxCooldown", webhook.Config{Health: webhook.HealthPolicy{BreakerMaxCooldown: -9}}, "-9ns"},
		{"Health.BackPressureWindow", webhook.Config{Health: webhook.HealthPolicy{BackPressureWindow: -10}}, "-10ns"},
		{"Health.AutoDisableAfter", webhook.Config{Health: webhook.HealthPolicy{AutoDisableAfter: -11}}, "-11ns"},
		{"Health.InitialInFlight", webhook.Config{Health: webhook.HealthPolicy{InitialInFlight: -12}}, "-12"},
		{"Health.FailingAfter", webhook.Config{Health: webhook.HealthPolicy{FailingAfter: -13}}, "-13"},
		{"Formats", webhook.Config{Formats: map[string]webhook.EnvelopeFunc{"legacy": nil}}, `"legacy"`},
		{"Formats", webhook.Config{Formats: map[string]webhook.EnvelopeFunc{"bad name": webhook.StandardEnvelope}}, `"bad name"`},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			d, err := webhook.New(tc.cfg)
			require.Error(t, err)
			assert.Nil(t, d)
			assert.ErrorIs(t, err, webhook.ErrInvalid)
			var ve *webhook.ValidationError
			require.True(t, errors.As(err, &ve), "want a *ValidationError, got %T", err)
			assert.Equal(t, tc.field, ve.Field)
			assert.Contains(t, ve.Reason, tc.value, "the reason quotes the bad value")
		})
	}
}
