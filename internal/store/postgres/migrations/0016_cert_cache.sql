-- What the ACME client caches (account key, certificates), shared by every
-- replica. Values are sealed by the caller where they hold private keys.
CREATE TABLE cert_cache (
	key        text        NOT NULL PRIMARY KEY,
	value      bytea       NOT NULL,
	updated_at timestamptz NOT NULL
);
