// Package oauth owns the OAuth 2.0 and OpenID Connect protocol endpoints:
// /authorize, /oauth/token and its grants, /userinfo, discovery and JWKS.
package oauth
