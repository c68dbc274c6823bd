package authflow

import "net/url"

// Paths of the hosted pages and of the protocol path they hand back to.
// Every step of a pending authorization request names the request with
// the "req" query parameter or form field.
const (
	LoginPath        = "/u/login"
	SignupPath       = "/u/signup"
	ConsentPath      = "/u/consent"
	OrganizationPath = "/u/organization"
	ResumePath       = "/authorize/resume"
	// CallbackPath is the one callback every upstream provider returns to.
	CallbackPath = "/login/callback"
)

// For returns path with the request's id as the "req" parameter.
func For(path, reqID string) string {
	return path + "?req=" + url.QueryEscape(reqID)
}

// UpstreamLoginPath is the page that sends the browser to an upstream
// connection's provider for a request.
func UpstreamLoginPath(connection, reqID string) string {
	return For(LoginPath+"/"+url.PathEscape(connection), reqID)
}
