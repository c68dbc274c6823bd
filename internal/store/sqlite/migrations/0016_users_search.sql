-- The management API's user search: exact and prefix (GLOB) matches of
-- email and name, across connections.
CREATE INDEX users_email ON users (email);
CREATE INDEX users_name ON users (name);
