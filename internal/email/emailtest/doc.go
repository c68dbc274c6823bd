// Package emailtest runs a real SMTP server on 127.0.0.1 for tests: it
// receives what Gatehouse sends (over STARTTLS, implicit TLS or plain
// SMTP, with or without AUTH PLAIN), keeps and parses each message, and
// can be made slow, refusing or down to test how senders fail.
package emailtest
