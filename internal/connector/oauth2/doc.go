// Package oauth2 is the oauth2 connection: login through any OAuth 2.0
// provider that has an authorization, a token and a userinfo endpoint but no
// OpenID Connect. It also holds the OAuth 2.0 client pieces the github and
// oidc connections build on: callback parsing, code-exchange errors, bearer
// requests, input checks and the claim mapping.
package oauth2
