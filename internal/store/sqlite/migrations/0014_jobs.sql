-- Bulk user imports and exports, run in the background. A job goes with
-- its failed rows and its file (ON DELETE CASCADE) when it expires.
CREATE TABLE jobs (
	id           TEXT    NOT NULL PRIMARY KEY,
	type         TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	connection   TEXT    NOT NULL,
	external_id  TEXT    NOT NULL,
	upsert       INTEGER NOT NULL,
	format       TEXT    NOT NULL,
	export_limit INTEGER NOT NULL,
	fields       TEXT    NOT NULL, -- [{"name": …, "export_as": …}]
	total        INTEGER NOT NULL,
	inserted     INTEGER NOT NULL,
	updated      INTEGER NOT NULL,
	failed       INTEGER NOT NULL,
	details      TEXT    NOT NULL,
	file_size    INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	lease_until  INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX jobs_expires_at ON jobs (expires_at);
-- FailStaleJobs looks only at the jobs still running.
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status IN ('pending', 'processing');

CREATE TABLE job_errors (
	job_id    TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	row_index INTEGER NOT NULL, -- index of the row in the file
	user_row  TEXT    NOT NULL, -- the row as it was, without its password hash
	errors    TEXT    NOT NULL, -- [{"code": …, "message": …, "path": …}]
	PRIMARY KEY (job_id, row_index)
) STRICT, WITHOUT ROWID;

CREATE TABLE job_files (
	job_id    TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	seq       INTEGER NOT NULL,
	data      BLOB    NOT NULL,
	PRIMARY KEY (job_id, seq)
) STRICT;
