// Package oidc is the oidc connection: login through any OpenID Connect
// provider found by discovery, with state, nonce and PKCE, the ID token
// verified by go-oidc and the claims mapped to a profile.
package oidc
