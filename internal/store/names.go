package store

// OpenIDScopes are the scopes OpenID Connect defines, which Gatehouse
// understands without an API; no API may define a scope of these names.
var OpenIDScopes = []string{"openid", "profile", "email", "offline_access"}
