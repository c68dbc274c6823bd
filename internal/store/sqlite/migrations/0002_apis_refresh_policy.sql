-- Client token lifetimes and refresh policy, APIs, refresh-token family
-- expiry and overlap use, and one signing-key ring per algorithm.
-- Durations are INTEGER milliseconds; 0 means the server default.

ALTER TABLE clients ADD COLUMN id_token_ttl        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN access_token_ttl    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN refresh_no_rotation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN refresh_overlap     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN refresh_idle        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN refresh_absolute    INTEGER NOT NULL DEFAULT 0;

CREATE TABLE apis (
	identifier               TEXT    NOT NULL PRIMARY KEY,
	name                     TEXT    NOT NULL,
	scopes                   TEXT    NOT NULL, -- JSON [{"name", "description"}]
	token_lifetime           INTEGER NOT NULL,
	signing_algorithm        TEXT    NOT NULL,
	allow_offline_access     INTEGER NOT NULL,
	skip_consent_first_party INTEGER NOT NULL,
	created_at               INTEGER NOT NULL,
	updated_at               INTEGER NOT NULL
) STRICT;

-- Tokens issued before this migration have no family expiry (NULL, the
-- zero time); callers fall back to the client's absolute lifetime.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at INTEGER;
ALTER TABLE refresh_tokens ADD COLUMN overlap_used      INTEGER NOT NULL DEFAULT 0;

-- At most one current and one next key per algorithm: each algorithm has
-- its own ring. This replaces the one ring of 0001.
DROP INDEX signing_keys_state;
CREATE UNIQUE INDEX signing_keys_algorithm_state ON signing_keys (algorithm, state) WHERE state <> 'previous';
