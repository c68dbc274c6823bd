-- What the ACME client caches (account key, certificates), shared by every
-- replica. Values are sealed by the caller where they hold private keys.
CREATE TABLE cert_cache (
	key        TEXT    NOT NULL PRIMARY KEY,
	value      BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;
