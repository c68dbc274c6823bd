// Package mfa owns users' second factors and passkeys: authenticator-app
// (TOTP) enrollment and codes with replay protection, one-time recovery
// codes, and the WebAuthn ceremonies that register and use security keys
// and passkeys, over the factors kept by store.FactorStore.
//
// The hosted pages call a Service: it seals secrets with the master key,
// hashes recovery codes, and turns the browser's WebAuthn JSON into stored
// credentials. It keeps nothing in memory between requests: a ceremony's
// state is a Session that the caller stores, bound to the browser, between
// begin and finish. Throttling code entry is the caller's.
//
// The policy functions (EffectivePolicy, Required, HasSecondFactor) say
// when a login needs a second factor; the authorize flow and the hosted
// pages both ask them, so the rule is written once.
package mfa
