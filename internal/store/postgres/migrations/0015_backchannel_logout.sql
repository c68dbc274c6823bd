-- OpenID Back-Channel Logout 1.0: each application's logout token
-- endpoint, the applications each session signed into (gone with the
-- session), and the logout tokens still to deliver (kept across restarts).
ALTER TABLE clients ADD COLUMN backchannel_logout_uri text NOT NULL DEFAULT '';

CREATE TABLE session_clients (
	session_id text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	client_id  text        NOT NULL,
	user_id    text        NOT NULL,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (session_id, client_id)
);
CREATE INDEX session_clients_user_id ON session_clients (user_id);

CREATE TABLE logout_deliveries (
	session_id      text        NOT NULL,
	client_id       text        NOT NULL,
	user_id         text        NOT NULL,
	attempts        integer     NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL,
	created_at      timestamptz NOT NULL,
	PRIMARY KEY (session_id, client_id)
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at);
