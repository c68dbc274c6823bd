-- One-time email tickets (email verification, password reset). id is the
-- hash of the token in the link. A consumed ticket stays, with used_at set,
-- until it expires, so that a second use is told apart from a forged link.
-- Tickets go with their user; the user_id index also serves that cascade.
CREATE TABLE tickets (
	id         text        NOT NULL PRIMARY KEY,
	kind       text        NOT NULL,
	user_id    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email      text        NOT NULL,
	client_id  text        NOT NULL,
	request_id text        NOT NULL,
	result_url text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);

CREATE INDEX tickets_user_id ON tickets (user_id, kind);
CREATE INDEX tickets_expires_at ON tickets (expires_at);
