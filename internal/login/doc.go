// Package login owns the hosted pages under /u/: login, sign-up and consent
// forms, the second-factor, passkey and account security pages, their CSRF
// protection and failed-login throttling. It hands the browser back to the
// protocol endpoints through the stored request id.
package login
