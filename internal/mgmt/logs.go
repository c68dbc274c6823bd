package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"gatehouse/internal/store"
)

// Limits of log searches, the hosted service's: a page holds at most
// MaxLogPage events, and a search pages through its first
// MaxLogSearchWindow results only; beyond, a caller narrows the search or
// follows the log by checkpoint (LogsFrom), which has no limit.
const (
	MaxLogPage         = 100
	MaxLogSearchWindow = 1000
)

// SearchLogs returns the page of events the filter selects (its Offset and
// Limit) and, with totals, how many it selects in all.
func (s *Service) SearchLogs(ctx context.Context, f store.LogFilter, totals bool) ([]store.LogEvent, int, error) {
	if f.Limit < 1 || f.Limit > MaxLogPage {
		return nil, 0, invalid("per_page", "per_page must be from 1 to %d", MaxLogPage)
	}
	if f.Offset < 0 || f.Offset+f.Limit > MaxLogSearchWindow {
		return nil, 0, invalid("page", "a search pages through its first %d results only: narrow it (q), or follow the log with from and take", MaxLogSearchWindow)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, 0, invalid("q", "the date range is empty")
	}
	events, err := s.st.ListLogs(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("search logs: %w", err)
	}
	total := 0
	if totals {
		if total, err = s.st.CountLogs(ctx, f); err != nil {
			return nil, 0, fmt.Errorf("count logs: %w", err)
		}
	}
	return events, total, nil
}

// GetLog returns one event.
func (s *Service) GetLog(ctx context.Context, id string) (store.LogEvent, error) {
	e, err := s.st.GetLog(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return e, &Error{Status: http.StatusNotFound, Code: "inexistent_log", Message: fmt.Sprintf("log %q not found", id), err: err}
	}
	if err != nil {
		return e, fmt.Errorf("get log: %w", err)
	}
	return e, nil
}

// LogsFrom returns up to take events committed after the event with the
// ID from, in commit order: the checkpoint read of the log, which skips no
// event however late a replica stored it. An ID that is no longer kept
// (retention) continues after the events that sorted before it.
func (s *Service) LogsFrom(ctx context.Context, from string, take int) ([]store.LogEvent, error) {
	if take < 1 || take > MaxLogPage {
		return nil, invalid("take", "take must be from 1 to %d", MaxLogPage)
	}
	after, err := s.st.LogCheckpoint(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("log checkpoint: %w", err)
	}
	events, err := s.st.ReadLogs(ctx, after, take)
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	return events, nil
}
