package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigDefaults checks that a zero Config takes the exported defaults.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Config{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, WorkersDefault, cfg.Workers)
	assert.Equal(t, MaxInFlightPerEndpointDefault, cfg.MaxInFlightPerEndpoint)
	assert.Equal(t, ClaimBatchDefault, cfg.ClaimBatch)
	assert.Equal(t, AttemptTimeoutDefault, cfg.AttemptTimeout)
	assert.Equal(t, AttemptTimeoutDefault+LeaseMarginDefault, cfg.Lease)
	assert.Equal(t, PollIntervalDefault, cfg.PollInterval)
	assert.Equal(t, MaxPayloadSizeDefault, cfg.MaxPayloadSize)
	assert.Equal(t, ResponseBodyLimitDefault, cfg.ResponseBodyLimit)
	assert.Equal(t, int64(MaxResponseHeaderBytesDefault), cfg.MaxResponseHeaderBytes)
	assert.Equal(t, MaxAttemptsDefault, cfg.Retry.MaxAttempts)
	assert.Equal(t, MaxRetryAfterDefault, cfg.Retry.MaxRetryAfter)
	h := cfg.Health
	assert.Equal(t, BreakerThresholdDefault, h.BreakerThreshold)
	assert.Equal(t, BreakerCooldownDefault, h.BreakerCooldown)
	assert.Equal(t, BreakerMaxCooldownDefault, h.BreakerMaxCooldown)
	assert.Equal(t, BackPressureWindowDefault, h.BackPressureWindow)
	assert.Equal(t, AutoDisableAfterDefault, h.AutoDisableAfter)
	assert.Equal(t, InitialInFlightDefault, h.InitialInFlight)
	assert.NotNil(t, cfg.Store)
	assert.NotNil(t, cfg.Logger)
	assert.NotNil(t, cfg.Now)
	assert.NotNil(t, cfg.Envelope)
}
