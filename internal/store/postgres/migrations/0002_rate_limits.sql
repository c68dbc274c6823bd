-- Rate limits (store.Throttler): one row per throttled key, holding the
-- key's GCRA "theoretical arrival time", the moment the key is back to its
-- full allowance. Past it the row says nothing, so it is the row's
-- expires_at and DeleteExpired removes it. refusals counts the refusals
-- since the key's last taken attempt, so that each lockout is reported once.
-- Replaces the fixed windows of the throttle table for the hosted pages.

CREATE TABLE rate_limits (
	limit_key  text        NOT NULL PRIMARY KEY,
	expires_at timestamptz NOT NULL,
	refusals   integer     NOT NULL
);

CREATE INDEX rate_limits_expires_at ON rate_limits (expires_at);
