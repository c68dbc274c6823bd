-- The audit log. seq is the commit order that readers following the log
-- go by: SQLite has one writer, so rows get their seq in the order they
-- commit, and AUTOINCREMENT never hands out a seq again, even after
-- retention has deleted every row.
CREATE TABLE log_events (
	seq               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	id                TEXT    NOT NULL UNIQUE,
	date              INTEGER NOT NULL,
	type              TEXT    NOT NULL,
	description       TEXT    NOT NULL,
	ip                TEXT    NOT NULL,
	user_agent        TEXT    NOT NULL,
	client_id         TEXT    NOT NULL,
	client_name       TEXT    NOT NULL,
	user_id           TEXT    NOT NULL,
	user_name         TEXT    NOT NULL,
	connection        TEXT    NOT NULL,
	connection_id     TEXT    NOT NULL,
	strategy          TEXT    NOT NULL,
	organization_id   TEXT    NOT NULL,
	organization_name TEXT    NOT NULL,
	audience          TEXT    NOT NULL,
	scope             TEXT    NOT NULL,
	details           TEXT
) STRICT;

CREATE INDEX log_events_date ON log_events (date, id);
CREATE INDEX log_events_user ON log_events (user_id, date);
CREATE INDEX log_events_client ON log_events (client_id, date);
CREATE INDEX log_events_type ON log_events (type, date);

-- Consumers that follow the log from outside (the webhook stream): the
-- seq delivered last, and the lease of the one process that delivers.
CREATE TABLE log_streams (
	name        TEXT    NOT NULL PRIMARY KEY,
	cursor      INTEGER NOT NULL,
	owner       TEXT    NOT NULL,
	lease_until INTEGER NOT NULL
) STRICT;
