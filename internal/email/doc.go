// Package email sends Gatehouse's transactional emails (address
// verification, password reset and notices) through an SMTP server, and
// builds them from embedded templates with the application's or
// organization's branding.
//
// The server is configured with one URL (email.smtp_url, see ParseURL):
//
//	smtp://user:pass@smtp.example.com:587   STARTTLS, required
//	smtps://user:pass@smtp.example.com:465  TLS from the first byte
//	smtp://127.0.0.1:2525?tls=none          no TLS: loopback only, e.g. a local relay or a test server
//	log                                     write each message, links included, to the server log
//
// "log" is for development only: the links in verification and reset
// emails are credentials, and anyone who can read the log can use them.
// Otherwise nothing secret is logged: a sent or failed email is logged with
// its kind and the recipient's domain, never the address, the links or the
// SMTP password.
//
// Sending never holds a page for long: each Send is bounded by a timeout
// (10 s by default, ?timeout= in the URL) that covers waiting for one of
// the few concurrent connections, connecting, TLS, authentication and the
// transfer, and a failure is returned so the page can say "we could not
// send the email, try again".
package email
