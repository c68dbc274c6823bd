-- Bulk user imports and exports, run in the background. A job goes with
-- its failed rows and its file (ON DELETE CASCADE) when it expires.
CREATE TABLE jobs (
	id           text        NOT NULL PRIMARY KEY,
	type         text        NOT NULL,
	status       text        NOT NULL,
	connection   text        NOT NULL,
	external_id  text        NOT NULL,
	upsert       boolean     NOT NULL,
	format       text        NOT NULL,
	export_limit integer     NOT NULL,
	fields       jsonb       NOT NULL, -- [{"name": …, "export_as": …}]
	total        integer     NOT NULL,
	inserted     integer     NOT NULL,
	updated      integer     NOT NULL,
	failed       integer     NOT NULL,
	details      text        NOT NULL,
	file_size    bigint      NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	lease_until  timestamptz NOT NULL,
	expires_at   timestamptz NOT NULL
);

CREATE INDEX jobs_expires_at ON jobs (expires_at);
-- FailStaleJobs looks only at the jobs still running.
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status IN ('pending', 'processing');

CREATE TABLE job_errors (
	job_id    text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	row_index integer NOT NULL, -- index of the row in the file
	user_row  jsonb   NOT NULL, -- the row as it was, without its password hash
	errors    jsonb   NOT NULL, -- [{"code": …, "message": …, "path": …}]
	PRIMARY KEY (job_id, row_index)
);

CREATE TABLE job_files (
	job_id    text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	seq       integer NOT NULL,
	data      bytea   NOT NULL,
	PRIMARY KEY (job_id, seq)
);
