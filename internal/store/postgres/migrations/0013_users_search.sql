-- The management API's user search: exact and prefix (LIKE 'abc%')
-- matches of email and name, across connections; text_pattern_ops serves
-- both whatever the database's collation.
CREATE INDEX users_email ON users (email text_pattern_ops);
CREATE INDEX users_name ON users (name text_pattern_ops);
