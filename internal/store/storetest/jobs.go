package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// newJob returns a running import with every field set.
func newJob(id string) store.Job {
	return store.Job{
		ID:         id,
		Type:       store.JobUsersExport,
		Status:     store.JobProcessing,
		Connection: store.DefaultDatabaseConnection,
		ExternalID: "migration — ünïcødé " + id,
		Upsert:     true,
		Format:     "json",
		Limit:      5000,
		Fields:     []store.JobField{{Name: "email"}, {Name: "user_metadata.plan", ExportAs: "plan"}},
		Summary:    store.JobSummary{Total: 10, Inserted: 4, Updated: 3, Failed: 2},
		Details:    "",
		FileSize:   1234,
		CreatedAt:  t0.Add(-time.Minute).In(elsewhere),
		UpdatedAt:  t0.In(elsewhere),
		LeaseUntil: t0.Add(time.Minute).In(elsewhere),
		ExpiresAt:  t0.Add(24 * time.Hour).In(elsewhere),
	}
}

// testJobs runs the job and bulk user tests on one store.
func testJobs(t *testing.T, s store.Store) {
	t.Run("CRUD", func(t *testing.T) { testJobCRUD(t, s) })
	t.Run("FailStale", func(t *testing.T) { testFailStaleJobs(t, s) })
	t.Run("Errors", func(t *testing.T) { testJobErrors(t, s) })
	t.Run("File", func(t *testing.T) { testJobFile(t, s) })
	t.Run("Expire", func(t *testing.T) { testJobsExpire(t, s) })
	t.Run("ImportUsers", func(t *testing.T) { testImportUsers(t, s) })
	t.Run("ImportUsersUpsert", func(t *testing.T) { testImportUsersUpsert(t, s) })
	t.Run("ListUsersAfter", func(t *testing.T) { testListUsersAfter(t, s) })
	t.Run("ReplacePasswordHash", func(t *testing.T) { testReplacePasswordHash(t, s) })
}

func testJobCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetJob(ctx, "job_crud")
	wantErr(t, err, store.ErrNotFound, "get job before create")

	j := newJob("job_crud")
	must(t, s.CreateJob(ctx, j), "create job")
	wantErr(t, s.CreateJob(ctx, newJob("job_crud")), store.ErrConflict, "create job with a taken ID")
	got, err := s.GetJob(ctx, j.ID)
	must(t, err, "get job")
	wantEqual(t, got, j, "get job")

	bare := store.Job{ID: "job_bare", Type: store.JobUsersImport, Status: store.JobPending,
		CreatedAt: t0, UpdatedAt: t0, LeaseUntil: t0, ExpiresAt: t0}
	must(t, s.CreateJob(ctx, bare), "create job with empty fields")
	got, err = s.GetJob(ctx, bare.ID)
	must(t, err, "get bare job")
	wantEqual(t, got, bare, "get bare job")

	// UpdateJob replaces the progress fields, and only those.
	upd := j
	upd.Status, upd.Summary, upd.Details, upd.FileSize = store.JobCompleted, store.JobSummary{Total: 10, Inserted: 5, Updated: 3, Failed: 2}, "done", 99
	upd.UpdatedAt, upd.LeaseUntil = t0.Add(time.Second).In(elsewhere), t0.Add(2*time.Minute).In(elsewhere)
	changedElsewhere := upd
	changedElsewhere.Type, changedElsewhere.Connection, changedElsewhere.ExternalID, changedElsewhere.Upsert = store.JobUsersImport, "other", "other", false
	changedElsewhere.Format, changedElsewhere.Limit, changedElsewhere.Fields = "csv", 1, nil
	changedElsewhere.CreatedAt, changedElsewhere.ExpiresAt = t0, t0
	must(t, s.UpdateJob(ctx, changedElsewhere), "update job")
	got, err = s.GetJob(ctx, j.ID)
	must(t, err, "get updated job")
	wantEqual(t, got, upd, "get updated job")

	// An ended job is final.
	again := upd
	again.Status = store.JobProcessing
	wantErr(t, s.UpdateJob(ctx, again), store.ErrAlreadyUsed, "update completed job")
	got, err = s.GetJob(ctx, j.ID)
	must(t, err, "get job after refused update")
	wantEqual(t, got, upd, "get job after refused update")

	unknown := newJob("job_unknown")
	wantErr(t, s.UpdateJob(ctx, unknown), store.ErrNotFound, "update unknown job")
}

func testFailStaleJobs(t *testing.T, s store.Store) {
	ctx := t.Context()
	jobs := map[string]store.Job{}
	for _, tc := range []struct {
		id     string
		status string
		lease  time.Duration // from t0
	}{
		{"job_stale_pending", store.JobPending, -time.Second},
		{"job_stale_processing", store.JobProcessing, -time.Millisecond},
		{"job_leased", store.JobProcessing, time.Millisecond},
		{"job_lease_now", store.JobPending, 0},
		{"job_done", store.JobCompleted, -time.Hour},
		{"job_failed", store.JobFailed, -time.Hour},
	} {
		j := newJob(tc.id)
		j.Status, j.LeaseUntil = tc.status, t0.Add(tc.lease)
		must(t, s.CreateJob(ctx, j), "create "+tc.id)
		jobs[tc.id] = j
	}
	n, err := s.FailStaleJobs(ctx, t0, "the server stopped")
	must(t, err, "fail stale jobs")
	if n != 2 {
		t.Errorf("FailStaleJobs marked %d jobs, want 2", n)
	}
	for id, j := range jobs {
		want := j
		if id == "job_stale_pending" || id == "job_stale_processing" {
			want.Status, want.Details, want.UpdatedAt = store.JobFailed, "the server stopped", t0
		}
		got, err := s.GetJob(ctx, id)
		must(t, err, "get "+id)
		wantEqual(t, got, want, "get "+id)
	}
	// A job failed as stale stays failed when its process wakes up.
	wantErr(t, s.UpdateJob(ctx, jobs["job_stale_processing"]), store.ErrAlreadyUsed, "update a job failed as stale")
}

func testJobErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := func(row int) store.JobError {
		return store.JobError{Row: row, User: []byte(fmt.Sprintf(`{"email":"user%d@example.com","name":"ünïcødé"}`, row)),
			Errors: []store.RowError{
				{Code: "INVALID_TYPE", Message: "Expected type string but found type number", Path: "#/name"},
				{Code: "OBJECT_ADDITIONAL_PROPERTIES", Message: "Additional properties not allowed: foo"},
			}}
	}
	wantErr(t, s.AddJobErrors(ctx, "job_nope", []store.JobError{e(0)}), store.ErrNotFound, "add errors to unknown job")
	must(t, s.CreateJob(ctx, newJob("job_errors")), "create job")
	must(t, s.CreateJob(ctx, newJob("job_other")), "create other job")
	must(t, s.AddJobErrors(ctx, "job_errors", []store.JobError{e(7), e(2)}), "add errors")
	must(t, s.AddJobErrors(ctx, "job_errors", []store.JobError{e(11)}), "add more errors")
	must(t, s.AddJobErrors(ctx, "job_errors", nil), "add no errors")
	must(t, s.AddJobErrors(ctx, "job_other", []store.JobError{e(2)}), "add the same row to another job")
	wantErr(t, s.AddJobErrors(ctx, "job_errors", []store.JobError{e(3), e(7)}), store.ErrConflict, "add a row twice")

	list, err := s.ListJobErrors(ctx, "job_errors", 0, 0)
	must(t, err, "list errors")
	// The refused batch added nothing, not even row 3.
	wantJobErrors(t, list, []store.JobError{e(2), e(7), e(11)}, "list errors")
	list, err = s.ListJobErrors(ctx, "job_errors", 3, 1)
	must(t, err, "list a page of errors")
	wantJobErrors(t, list, []store.JobError{e(7)}, "list a page of errors")
	list, err = s.ListJobErrors(ctx, "job_errors", 12, 10)
	must(t, err, "list errors past the last")
	wantJobErrors(t, list, nil, "list errors past the last")
	list, err = s.ListJobErrors(ctx, "job_nope", 0, 0)
	must(t, err, "list errors of unknown job")
	wantJobErrors(t, list, nil, "list errors of unknown job")
}

// wantJobErrors compares error lists, the rows as JSON values (a backend
// may store JSON in a normal form).
func wantJobErrors(t *testing.T, got, want []store.JobError, op string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d errors, want %d: %+v", op, len(got), len(want), got)
	}
	for i := range got {
		wantEqual(t, jsonValue(t, got[i].User), jsonValue(t, want[i].User), fmt.Sprintf("%s: row %d user", op, i))
		g, w := got[i], want[i]
		g.User, w.User = nil, nil
		wantEqual(t, g, w, fmt.Sprintf("%s: row %d", op, i))
	}
}

func testJobFile(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, s.AppendJobFile(ctx, "job_nope", 0, []byte("x")), store.ErrNotFound, "append to unknown job")
	must(t, s.CreateJob(ctx, newJob("job_file")), "create job")
	must(t, s.CreateJob(ctx, newJob("job_file_other")), "create other job")
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	must(t, s.AppendJobFile(ctx, "job_file", 2, []byte("\x00third\xff")), "append part 2")
	must(t, s.AppendJobFile(ctx, "job_file", 0, []byte("first")), "append part 0")
	must(t, s.AppendJobFile(ctx, "job_file", 1, big), "append part 1")
	must(t, s.AppendJobFile(ctx, "job_file_other", 0, []byte("other")), "append to other job")
	wantErr(t, s.AppendJobFile(ctx, "job_file", 1, []byte("again")), store.ErrConflict, "append a part twice")

	var parts [][]byte
	must(t, s.ReadJobFile(ctx, "job_file", func(p []byte) error {
		parts = append(parts, append([]byte(nil), p...))
		return nil
	}), "read file")
	// bytes.Equal, not wantEqual: cmp walks a megabyte slowly.
	want := [][]byte{[]byte("first"), big, []byte("\x00third\xff")}
	if len(parts) != len(want) {
		t.Fatalf("read %d parts, want %d", len(parts), len(want))
	}
	for i := range want {
		if !bytes.Equal(parts[i], want[i]) {
			t.Errorf("part %d: %d bytes that differ from the %d written", i, len(parts[i]), len(want[i]))
		}
	}

	stop := errors.New("stop")
	n := 0
	err := s.ReadJobFile(ctx, "job_file", func([]byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("read file stopped by its callback: %v after %d parts, want the callback's error after 1", err, n)
	}
	must(t, s.ReadJobFile(ctx, "job_nope", func([]byte) error {
		t.Error("unknown job has a part")
		return nil
	}), "read file of unknown job")
}

func testJobsExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := wallNow()
	old, live := newJob("job_old"), newJob("job_live")
	old.ExpiresAt, live.ExpiresAt = now.Add(-time.Minute), now.Add(time.Hour)
	for _, j := range []store.Job{old, live} {
		must(t, s.CreateJob(ctx, j), "create "+j.ID)
		must(t, s.AddJobErrors(ctx, j.ID, []store.JobError{{Row: 1, User: []byte(`{}`), Errors: []store.RowError{{Code: "X", Message: "x"}}}}), "add error to "+j.ID)
		must(t, s.AppendJobFile(ctx, j.ID, 0, []byte("data")), "append file of "+j.ID)
	}
	n, err := s.DeleteExpired(ctx, now)
	must(t, err, "delete expired")
	if n < 1 {
		t.Errorf("DeleteExpired removed %d rows, want at least the expired job", n)
	}
	_, err = s.GetJob(ctx, old.ID)
	wantErr(t, err, store.ErrNotFound, "get expired job")
	// Its errors and file went with it: a job created again under the ID
	// starts with none.
	must(t, s.CreateJob(ctx, old), "create the expired job again")
	errs, err := s.ListJobErrors(ctx, old.ID, 0, 0)
	must(t, err, "list errors of re-created job")
	wantJobErrors(t, errs, nil, "errors of re-created job")
	must(t, s.ReadJobFile(ctx, old.ID, func([]byte) error {
		t.Error("re-created job has a part of the expired job's file")
		return nil
	}), "read file of re-created job")

	_, err = s.GetJob(ctx, live.ID)
	must(t, err, "get live job")
	errs, err = s.ListJobErrors(ctx, live.ID, 0, 0)
	must(t, err, "list errors of live job")
	if len(errs) != 1 {
		t.Errorf("live job has %d errors, want 1", len(errs))
	}
}

// importRow returns an insert row for a new database user.
func importRow(id, email string) store.ImportUser {
	return store.ImportUser{User: newUser(id, email)}
}

func testImportUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("gatehouse|taken", "taken@example.com")), "create existing user")

	identityTaken := newUser("gatehouse|new-id", "new-id@example.com")
	identityTaken.Identities[0].UserID = "taken"
	rows := []store.ImportUser{
		importRow("gatehouse|a1", "a1@example.com"),
		importRow("gatehouse|a2", "taken@example.com"), // email taken
		importRow("gatehouse|taken", "a3@example.com"), // ID taken
		{User: identityTaken},                          // user row free, identity taken
		importRow("gatehouse|a5", "a5@example.com"),
		importRow("gatehouse|a6", "a1@example.com"), // email taken within the batch
		{User: func() store.User { u := newUser("gatehouse|a7", ""); u.Identities = nil; return u }()},
		{User: func() store.User { u := newUser("gatehouse|a8", ""); u.Identities = nil; return u }()}, // no email: no clash
	}
	results, err := s.ImportUsers(ctx, rows)
	must(t, err, "import users")
	if len(results) != len(rows) {
		t.Fatalf("%d results for %d rows", len(results), len(rows))
	}
	for i, want := range []struct {
		id       string
		conflict bool
	}{
		{"gatehouse|a1", false}, {"", true}, {"", true}, {"", true},
		{"gatehouse|a5", false}, {"", true}, {"gatehouse|a7", false}, {"gatehouse|a8", false},
	} {
		r := results[i]
		if want.conflict {
			wantErr(t, r.Err, store.ErrConflict, fmt.Sprintf("row %d", i))
			continue
		}
		if r.Err != nil || r.UserID != want.id || r.Updated {
			t.Errorf("row %d: result %+v, want user %s inserted", i, r, want.id)
		}
	}
	for _, u := range []store.User{rows[0].User, rows[4].User, rows[6].User, rows[7].User} {
		got, err := s.GetUser(ctx, u.ID)
		must(t, err, "get imported "+u.ID)
		wantEqual(t, got, u, "get imported "+u.ID)
	}
	// A refused row left nothing behind: not the user whose identity was
	// taken, nor a second identity.
	for _, id := range []string{"gatehouse|a2", "gatehouse|new-id", "gatehouse|a6"} {
		_, err := s.GetUser(ctx, id)
		wantErr(t, err, store.ErrNotFound, "get refused "+id)
	}
	_, err = s.GetUserByEmail(ctx, store.DefaultDatabaseConnection, "new-id@example.com")
	wantErr(t, err, store.ErrNotFound, "get refused user by email")
	existing, err := s.GetUser(ctx, "gatehouse|taken")
	must(t, err, "get existing user")
	wantEqual(t, existing, newUser("gatehouse|taken", "taken@example.com"), "existing user after import")

	results, err = s.ImportUsers(ctx, nil)
	must(t, err, "import no users")
	if len(results) != 0 {
		t.Errorf("import of no rows: %+v", results)
	}
}

func testImportUsersUpsert(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := newUser("gatehouse|old", "old@example.com")
	must(t, s.CreateUser(ctx, old), "create existing user")

	// update renames the user and tries to change what an upsert keeps.
	update := func(u *store.User) {
		u.Name, u.PasswordHash, u.UpdatedAt = "Renamed", "$2b$10$new", t0.In(elsewhere)
		u.ID, u.Email, u.Connection, u.CreatedAt = "gatehouse|hijack", "hijack@example.com", "other", t0
		u.Identities = []store.Identity{{Connection: "other", Provider: "x", UserID: "y"}}
	}
	incoming := newUser("gatehouse|incoming", "old@example.com")
	fresh := newUser("gatehouse|fresh", "fresh@example.com")
	twice := newUser("gatehouse|twice-2", "fresh@example.com")
	results, err := s.ImportUsers(ctx, []store.ImportUser{
		{User: incoming, Update: update},
		{User: fresh, Update: update},
		{User: twice, Update: update},                         // same email as the row before: updates it
		{User: newUser("gatehouse|plain", "old@example.com")}, // no Update: a conflict
	})
	must(t, err, "import with upsert")
	want := []store.ImportResult{
		{UserID: "gatehouse|old", Updated: true},
		{UserID: "gatehouse|fresh"},
		{UserID: "gatehouse|fresh", Updated: true},
	}
	for i, w := range want {
		if r := results[i]; r.Err != nil || r.UserID != w.UserID || r.Updated != w.Updated {
			t.Errorf("row %d: result %+v, want %+v", i, r, w)
		}
	}
	wantErr(t, results[3].Err, store.ErrConflict, "insert row with a taken email")

	for _, u := range []store.User{old, fresh} {
		w := u
		w.Name, w.PasswordHash, w.UpdatedAt = "Renamed", "$2b$10$new", t0
		got, err := s.GetUser(ctx, u.ID)
		must(t, err, "get upserted "+u.ID)
		wantEqual(t, got, w, "get upserted "+u.ID)
	}
	for _, id := range []string{"gatehouse|incoming", "gatehouse|hijack", "gatehouse|twice-2", "gatehouse|plain"} {
		_, err := s.GetUser(ctx, id)
		wantErr(t, err, store.ErrNotFound, "get "+id)
	}
}

func testListUsersAfter(t *testing.T, s store.Store) {
	ctx := t.Context()
	// IDs whose byte order differs from a case-insensitive or natural
	// collation.
	// They are in a connection of their own: the store is shared with
	// the other job tests.
	const conn = "paged"
	ids := []string{"gatehouse|b", "gatehouse|B", "gatehouse|a", "gatehouse|a-1", "gatehouse|a_1", "gatehouse|Z", "gatehouse|é"}
	for i, id := range ids {
		u := newUser(id, fmt.Sprintf("u%d@example.com", i))
		u.Connection, u.Identities[0].Connection = conn, conn
		must(t, s.CreateUser(ctx, u), "create "+id)
	}
	gh := newUser("github|1", "gh@example.com")
	gh.Connection = "github"
	gh.Identities = []store.Identity{{Connection: "github", Provider: "github", UserID: "1"}, {Connection: "github", Provider: "github", UserID: "1-second"}}
	must(t, s.CreateUser(ctx, gh), "create github user")

	page := func(conn, after string, limit int) []string {
		t.Helper()
		users, err := s.ListUsersAfter(ctx, conn, after, limit)
		must(t, err, "list users after "+after)
		var got []string
		for _, u := range users {
			got = append(got, u.ID)
		}
		return got
	}
	// Page through the database connection, two at a time.
	var all []string
	after := ""
	for {
		p := page(conn, after, 2)
		if len(p) == 0 {
			break
		}
		all = append(all, p...)
		after = p[len(p)-1]
	}
	wantEqual(t, all, []string{"gatehouse|B", "gatehouse|Z", "gatehouse|a", "gatehouse|a-1", "gatehouse|a_1", "gatehouse|b", "gatehouse|é"}, "pages of one connection")
	wantEqual(t, page("", "gatehouse|é", 10), []string{"github|1"}, "every connection after gatehouse|é")
	wantEqual(t, page("", "", 1), []string{"gatehouse|B"}, "first user of every connection")
	wantEqual(t, page("nope", "", 10), nil, "unknown connection")

	users, err := s.ListUsersAfter(ctx, "github", "", 10)
	must(t, err, "list github users")
	if len(users) != 1 {
		t.Fatalf("github users: %+v", users)
	}
	wantEqual(t, users[0], gh, "github user with two identities")
}

func testReplacePasswordHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("gatehouse|rehash", "rehash@example.com")
	u.PasswordHash = "$2b$10$old"
	must(t, s.CreateUser(ctx, u), "create user")

	wantErr(t, s.ReplacePasswordHash(ctx, u.ID, "$2b$10$stale", "$argon2id$new"), store.ErrNotFound, "replace a hash that changed")
	wantErr(t, s.ReplacePasswordHash(ctx, "gatehouse|nope", "$2b$10$old", "$argon2id$new"), store.ErrNotFound, "replace hash of unknown user")
	got, err := s.GetUser(ctx, u.ID)
	must(t, err, "get user after refused replacements")
	wantEqual(t, got, u, "user after refused replacements")

	must(t, s.ReplacePasswordHash(ctx, u.ID, "$2b$10$old", "$argon2id$new"), "replace hash")
	want := u
	want.PasswordHash = "$argon2id$new" // and UpdatedAt as it was
	got, err = s.GetUser(ctx, u.ID)
	must(t, err, "get user after replacement")
	wantEqual(t, got, want, "user after replacement")
	wantErr(t, s.ReplacePasswordHash(ctx, u.ID, "$2b$10$old", "$argon2id$newer"), store.ErrNotFound, "replace the old hash again")
}

// jsonValue decodes JSON text for comparison.
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}
