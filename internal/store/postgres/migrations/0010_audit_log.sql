-- The audit log. seq is the commit order that readers following the log
-- go by. A sequence would hand out numbers in the order transactions ask,
-- not the order they commit, so a reader could see seq 11 before seq 10
-- commits and skip it. Instead each batch takes its numbers from the one
-- row of log_sequence, whose lock it holds until it commits: batches from
-- every replica commit one after the other, in seq order.
CREATE TABLE log_sequence (
	one  boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (one),
	last bigint  NOT NULL
);
INSERT INTO log_sequence (one, last) VALUES (true, 0);

CREATE TABLE log_events (
	seq               bigint      NOT NULL PRIMARY KEY,
	id                text        COLLATE "C" NOT NULL UNIQUE,
	date              timestamptz NOT NULL,
	type              text        NOT NULL,
	description       text        NOT NULL,
	ip                text        NOT NULL,
	user_agent        text        NOT NULL,
	client_id         text        NOT NULL,
	client_name       text        NOT NULL,
	user_id           text        NOT NULL,
	user_name         text        NOT NULL,
	connection        text        NOT NULL,
	connection_id     text        NOT NULL,
	strategy          text        NOT NULL,
	organization_id   text        NOT NULL,
	organization_name text        NOT NULL,
	audience          text        NOT NULL,
	scope             text        NOT NULL,
	details           jsonb
);

CREATE INDEX log_events_date ON log_events (date, id);
CREATE INDEX log_events_user ON log_events (user_id, date);
CREATE INDEX log_events_client ON log_events (client_id, date);
CREATE INDEX log_events_type ON log_events (type, date);

-- Consumers that follow the log from outside (the webhook stream): the
-- seq delivered last, and the lease of the one replica that delivers.
CREATE TABLE log_streams (
	name        text        NOT NULL PRIMARY KEY,
	cursor      bigint      NOT NULL,
	owner       text        NOT NULL,
	lease_until timestamptz NOT NULL
);
