package server

import (
	"context"
	"time"

	"gatehouse/internal/audit"
)

// Audit returns the server's audit log, for the routes mounted beside the
// protocol and the hosted pages (the management API).
func (s *Server) Audit() audit.Recorder { return s.audit }

// deleteOldLogs removes the audit events older than logs.retention; the
// cleaner runs it with the other expired rows.
func (s *Server) deleteOldLogs(ctx context.Context) {
	n, err := s.store.DeleteLogsBefore(ctx, time.Now().UTC().Add(-s.cfg.Logs.Retention.D()))
	if err != nil && ctx.Err() == nil {
		s.log.Warn("delete old audit events", "err", err)
	} else if n > 0 {
		s.log.Debug("deleted old audit events", "events", n)
	}
}

// streamLogs delivers the audit log to the configured webhook until ctx
// ends; the channel closes when it has stopped (at once without a
// webhook). Every replica runs one; the stream's lease lets one deliver.
func (s *Server) streamLogs(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if s.cfg.Logs.WebhookURL == "" {
		close(done)
		return done
	}
	stream, err := audit.NewStream(audit.StreamConfig{Store: s.store, URL: s.cfg.Logs.WebhookURL,
		Authorization: s.cfg.Logs.WebhookAuthorization, Log: s.log})
	if err != nil {
		// config.Validate checked the URL: not reached.
		s.log.Error("audit log stream", "err", err)
		close(done)
		return done
	}
	go func() {
		defer close(done)
		_ = stream.Run(ctx)
	}()
	return done
}

// closeAudit stores the audit events still buffered, once requests have
// finished, waiting up to 5 seconds for a slow database.
func (s *Server) closeAudit() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.audit.Close(ctx); err != nil {
		s.log.Error("audit log at shutdown", "err", err)
	}
}
