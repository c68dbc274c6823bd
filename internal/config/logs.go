package config

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Logs configures the audit log (internal/audit).
type Logs struct {
	// Retention is how long events are kept (720h, 30 days).
	Retention Duration `yaml:"retention"`
	// WebhookURL, when set, receives every event: HTTP POSTs of JSON
	// arrays, at least once, in order.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookAuthorization is the Authorization header value sent with
	// each POST ("Bearer …"); better given as
	// GATEHOUSE_LOGS_WEBHOOK_AUTHORIZATION than in the file.
	WebhookAuthorization string `yaml:"webhook_authorization"`
}

// defaultLogs are the audit log's built-in settings.
func defaultLogs() Logs {
	return Logs{Retention: Duration(30 * 24 * time.Hour)}
}

// applyEnv merges the GATEHOUSE_LOGS_* variables over l.
func (l *Logs) applyEnv(lookup func(string) (string, bool)) error {
	if v, ok := lookup("GATEHOUSE_LOGS_RETENTION"); ok {
		d, err := ParseDuration(v)
		if err != nil {
			return fmt.Errorf("GATEHOUSE_LOGS_RETENTION: %w", err)
		}
		l.Retention = Duration(d)
	}
	if v, ok := lookup("GATEHOUSE_LOGS_WEBHOOK_URL"); ok {
		l.WebhookURL = v
	}
	if v, ok := lookup("GATEHOUSE_LOGS_WEBHOOK_AUTHORIZATION"); ok {
		l.WebhookAuthorization = v
	}
	return nil
}

// validate checks the audit log settings. A webhook that is sent an
// Authorization header must be https, but on loopback.
func (l Logs) validate() error {
	if l.Retention.D() < time.Hour {
		return errors.New("logs.retention: must be at least 1h")
	}
	if l.WebhookURL == "" {
		if l.WebhookAuthorization != "" {
			return errors.New("logs.webhook_authorization: set without logs.webhook_url")
		}
		return nil
	}
	u, err := url.Parse(l.WebhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("logs.webhook_url: %q is not an absolute http(s) URL", l.WebhookURL)
	}
	if u.User != nil {
		return errors.New("logs.webhook_url: must not hold credentials; use logs.webhook_authorization")
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("logs.webhook_url: %q must use https (http is allowed only on localhost): the events name users and addresses", u.Redacted())
	}
	return nil
}
