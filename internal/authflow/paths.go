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
	// EmailVerificationPath holds a login back until the user has
	// verified their email address (applications that require it).
	EmailVerificationPath = "/u/email-verification"
	// VerifyEmailPath is the link of a verification email (?ticket=…).
	VerifyEmailPath = "/u/verify-email"
	// ForgotPasswordPath asks for the address to send a reset link to;
	// ResetPasswordPath is the link of a reset email (?ticket=…).
	ForgotPasswordPath = "/u/forgot-password"
	ResetPasswordPath  = "/u/reset-password"
	// CallbackPath is the one callback every upstream provider returns to.
	CallbackPath = "/login/callback"
)

// Paths of the second-factor and passkey pages.
const (
	// MFAPath asks for a second factor; MFAEnrollPath sets up the first
	// one of a user who has none.
	MFAPath       = "/u/mfa"
	MFAEnrollPath = "/u/mfa/enroll"
	// PasskeyPath signs in with a passkey instead of a password.
	PasskeyPath = "/u/passkey"
	// AccountSecurityPath is where a logged-in user manages their
	// factors and passkeys; it belongs to no request.
	AccountSecurityPath = "/u/account/security"
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
