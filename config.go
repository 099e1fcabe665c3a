package webhook

import (
	"log/slog"
	"time"
)

// The defaults of Config's fields, which a zero field takes.
const (
	// WorkersDefault is the default of Config.Workers: deliveries wait on
	// the network, not the CPU.
	WorkersDefault = 64
	// MaxInFlightPerEndpointDefault is the default of
	// Config.MaxInFlightPerEndpoint.
	MaxInFlightPerEndpointDefault = 16
	// ClaimBatchDefault is the default of Config.ClaimBatch.
	ClaimBatchDefault = 64
	// AttemptTimeoutDefault is the default of Config.AttemptTimeout.
	AttemptTimeoutDefault = 15 * time.Second
	// LeaseMarginDefault is how much longer than Config.AttemptTimeout
	// Config.Lease is by default.
	LeaseMarginDefault = 10 * time.Second
	// PollIntervalDefault is the default of Config.PollInterval.
	PollIntervalDefault = time.Second
	// MaxPayloadSizeDefault is the default of Config.MaxPayloadSize, in
	// bytes.
	MaxPayloadSizeDefault = 256 << 10
	// ResponseBodyLimitDefault is the default of Config.ResponseBodyLimit,
	// in bytes.
	ResponseBodyLimitDefault = 4 << 10
)

// The defaults of RetryPolicy's fields.
const (
	// MaxAttemptsDefault is the default of RetryPolicy.MaxAttempts: the
	// first attempt and one after each of DefaultRetrySchedule's delays.
	MaxAttemptsDefault = 10
	// MaxRetryAfterDefault is the default of RetryPolicy.MaxRetryAfter.
	MaxRetryAfterDefault = time.Hour
	// RetryJitterDefault is the jitter of the default schedule: each delay
	// of DefaultRetrySchedule is randomised by ±10%.
	RetryJitterDefault = 0.1
)

// The defaults of HealthPolicy's fields.
const (
	// BreakerThresholdDefault is the default of HealthPolicy.BreakerThreshold.
	BreakerThresholdDefault = 5
	// BreakerCooldownDefault is the default of HealthPolicy.BreakerCooldown.
	BreakerCooldownDefault = 30 * time.Second
	// BreakerMaxCooldownDefault is the default of
	// HealthPolicy.BreakerMaxCooldown.
	BreakerMaxCooldownDefault = 10 * time.Minute
	// BackPressureWindowDefault is the default of
	// HealthPolicy.BackPressureWindow.
	BackPressureWindowDefault = 30 * time.Second
	// AutoDisableAfterDefault is the default of HealthPolicy.AutoDisableAfter.
	AutoDisableAfterDefault = 5 * 24 * time.Hour
	// InitialInFlightDefault is the default of HealthPolicy.InitialInFlight.
	InitialInFlightDefault = 2
)

// withDefaults checks cfg and fills its zero fields with their defaults. A
// bad field is a *ValidationError naming it (as a Go selector: "Workers",
// "Retry.MaxAttempts", "Health.BreakerCooldown") and its value.
func (cfg Config) withDefaults() (Config, error) {
	if err := firstError(
		notNegative("Workers", cfg.Workers),
		notNegative("MaxInFlightPerEndpoint", cfg.MaxInFlightPerEndpoint),
		notNegative("ClaimBatch", cfg.ClaimBatch),
		notNegative("AttemptTimeout", cfg.AttemptTimeout),
		notNegative("Lease", cfg.Lease),
		notNegative("PollInterval", cfg.PollInterval),
		notNegative("MaxPayloadSize", cfg.MaxPayloadSize),
		notNegative("ResponseBodyLimit", cfg.ResponseBodyLimit),
		notNegative("MaxResponseHeaderBytes", cfg.MaxResponseHeaderBytes),
		notNegative("Retry.MaxAttempts", cfg.Retry.MaxAttempts),
		notNegative("Retry.MaxRetryAfter", cfg.Retry.MaxRetryAfter),
	); err != nil {
		return cfg, err
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	orDefault(&cfg.Workers, WorkersDefault)
	orDefault(&cfg.MaxInFlightPerEndpoint, MaxInFlightPerEndpointDefault)
	orDefault(&cfg.ClaimBatch, ClaimBatchDefault)
	orDefault(&cfg.AttemptTimeout, AttemptTimeoutDefault)
	orDefault(&cfg.Lease, cfg.AttemptTimeout+LeaseMarginDefault)
	if cfg.Lease <= cfg.AttemptTimeout {
		return cfg, invalid("Lease", "%s must exceed AttemptTimeout (%s)", cfg.Lease, cfg.AttemptTimeout)
	}
	orDefault(&cfg.PollInterval, PollIntervalDefault)
	orDefault(&cfg.MaxPayloadSize, MaxPayloadSizeDefault)
	orDefault(&cfg.ResponseBodyLimit, ResponseBodyLimitDefault)
	orDefault(&cfg.MaxResponseHeaderBytes, MaxResponseHeaderBytesDefault)
	if cfg.Envelope == nil {
		cfg.Envelope = StandardEnvelope
	}
	if err := validateFormats(cfg.Formats); err != nil {
		return cfg, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Retry = cfg.Retry.withDefaults()
	var err error
	cfg.Health, err = cfg.Health.withDefaults()
	return cfg, err
}

// notNegative is a *ValidationError naming field when v is negative.
func notNegative[T int | int64 | time.Duration](field string, v T) error {
	if v < 0 {
		return invalid(field, "%v must not be negative (0 takes the default)", v)
	}
	return nil
}

// firstError returns the first of errs that is not nil, or nil: checks
// listed in the order a user reads the fields.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// orDefault sets *v to def when it is zero.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
