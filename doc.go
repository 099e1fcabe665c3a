// Package webhook is hookline: an embeddable library for outbound webhooks.
//
// A host application registers its customers' endpoints, publishes typed
// events, and hookline delivers them in the background: signed the Standard
// Webhooks way, retried with backoff, logged attempt by attempt, and kept
// away from private networks. Everything runs in process on top of a Store:
// the in-memory one by default, or the Postgres store of
// github.com/hookline/webhook/pgstore for durable, multi-instance work.
//
// The life of a message:
//
//  1. Publish marshals the event once and stores one Message and one Delivery
//     per enabled, subscribed endpoint of the tenant in one atomic step.
//  2. The Dispatcher's workers claim due deliveries with a lease.
//  3. A worker signs and POSTs the body, reads the start of the answer and
//     records the Attempt together with the delivery's new state.
//  4. A 2xx succeeds; anything else is retried by the RetryPolicy until the
//     last attempt fails for good.
//
// The receiving side uses the same package: Verify and Verifier check the
// Standard Webhooks headers (v1 HMAC secrets and v1a ed25519 public keys),
// and Verifier.Middleware guards an http.Handler. Senders rotate secrets
// with Dispatcher.RotateSecret and opt endpoints into v1a with
// Endpoint.SigningKey.
package webhook
