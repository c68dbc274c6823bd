-- OpenID Back-Channel Logout 1.0: each application's logout token
-- endpoint, the applications each session signed into (gone with the
-- session), and the logout tokens still to deliver (kept across restarts).
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';

CREATE TABLE session_clients (
	session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	client_id  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (session_id, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX session_clients_user_id ON session_clients (user_id);

CREATE TABLE logout_deliveries (
	session_id      TEXT    NOT NULL,
	client_id       TEXT    NOT NULL,
	user_id         TEXT    NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	PRIMARY KEY (session_id, client_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at);
