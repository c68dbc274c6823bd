-- One-time email tickets (email verification, password reset). id is the
-- hash of the token in the link. A consumed ticket stays, with used_at set,
-- until it expires, so that a second use is told apart from a forged link.
-- Tickets go with their user.
CREATE TABLE tickets (
	id         TEXT    NOT NULL PRIMARY KEY,
	kind       TEXT    NOT NULL,
	user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email      TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	request_id TEXT    NOT NULL,
	result_url TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX tickets_user_id ON tickets (user_id, kind);
CREATE INDEX tickets_expires_at ON tickets (expires_at);
