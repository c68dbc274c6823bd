package mgmt_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// jobsEnv is a Jobs over the env's store and clock.
type jobsEnv struct {
	*env
	jobs  *mgmt.Jobs
	spool string
}

func newJobsEnv(t *testing.T, edit ...func(*mgmt.JobsConfig)) *jobsEnv {
	t.Helper()
	e := newEnv(t)
	je := &jobsEnv{env: e, spool: t.TempDir()}
	cfg := mgmt.JobsConfig{Store: e.st, SpoolDir: je.spool, LinkKey: []byte("0123456789abcdef0123456789abcdef"),
		Now: func() time.Time { return e.now }}
	for _, f := range edit {
		f(&cfg)
	}
	var err error
	je.jobs, err = mgmt.NewJobs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = je.jobs.Close(context.Background()) })
	return je
}

// importFile runs an import of the rows, given as JSON text, and returns
// the job and its errors by row.
func (e *jobsEnv) importFile(t *testing.T, upsert bool, rows ...string) (store.Job, map[int]store.JobError) {
	t.Helper()
	job, err := e.jobs.RunImport(t.Context(), mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection,
		Users: strings.NewReader("[" + strings.Join(rows, ",\n") + "]"), Upsert: upsert, ExternalID: "ext-1"})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return job, e.jobErrors(t, job.ID)
}

func (e *jobsEnv) jobErrors(t *testing.T, id string) map[int]store.JobError {
	t.Helper()
	errs := map[int]store.JobError{}
	if err := e.jobs.EachJobError(t.Context(), id, func(je store.JobError) error {
		errs[je.Row] = je
		return nil
	}); err != nil {
		t.Fatalf("job errors: %v", err)
	}
	return errs
}

func TestImportRows(t *testing.T) {
	e := newJobsEnv(t)
	ctx := t.Context()
	e.newUser(t, "gatehouse|existing", "existing@example.com")
	rows := []struct {
		row  string
		code string // "" when the row is written
		path string
		msg  string
	}{
		{row: `{"email":"Ada@Example.com","email_verified":true,"user_id":"ada","given_name":"Ada","family_name":"Lovelace",
			"name":"Ada Lovelace","nickname":"countess","picture":"https://img.example/ada.png","blocked":false,
			"password_hash":"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K",
			"app_metadata":{"plan":"pro","roles":["admin"]},"user_metadata":{"theme":"dark"}}`},
		{row: `{"email":"mary@example.com","custom_password_hash":{"algorithm":"sha256","hash":{"value":"7054f76f832d2d4e244f73b3f3f4c3702cb60a573ed12441c90f159df560fcb5","encoding":"hex"},"salt":{"value":"keyboardcat","position":"prefix"}}}`},
		{row: `{"email":"nohash@example.com","user_id":"gatehouse|kept-prefix"}`},
		{row: `{"name":"No Email"}`, code: "OBJECT_MISSING_REQUIRED_PROPERTY", path: "#/", msg: "Missing required property: email"},
		{row: `{"email":"x@example.com","favourite_colour":"blue","zodiac":"leo"}`, code: "OBJECT_ADDITIONAL_PROPERTIES", path: "#/", msg: "Additional properties not allowed: favourite_colour,zodiac"},
		{row: `{"email":"not an email"}`, code: "INVALID_FORMAT", path: "#/email", msg: "format email"},
		{row: `{"email":"t@example.com","name":42}`, code: "INVALID_TYPE", path: "#/name", msg: "Expected type string but found type number"},
		{row: `{"email":"t2@example.com","email_verified":"yes"}`, code: "INVALID_TYPE", path: "#/email_verified", msg: "Expected type boolean but found type string"},
		{row: `{"email":"existing@example.com"}`, code: "DUPLICATED_USER", msg: "already exists"},
		{row: `{"email":"ada@example.com"}`, code: "DUPLICATED_USER", msg: "already exists"}, // the first row's, in the same batch
		{row: `{"email":"u@example.com","username":"u"}`, code: "NOT_SUPPORTED", path: "#/username", msg: "no username"},
		{row: `{"email":"a@example.com","app_metadata":{"email":"b@example.com"}}`, code: "INVALID_FORMAT", path: "#/app_metadata/email", msg: "must not have the property email"},
		{row: `{"email":"b@example.com","user_id":"auth0|abc"}`, code: "INVALID_FORMAT", path: "#/user_id", msg: `set user_id_provider to "auth0"`},
		{row: `{"email":"c@example.com","password_hash":"$2b$10$x","custom_password_hash":{"algorithm":"bcrypt","hash":{"value":"$2b$10$x"}}}`, code: "INVALID_FORMAT", path: "#/", msg: "mutually exclusive"},
		{row: `{"email":"d@example.com","password_hash":"5f4dcc3b5aa765d61d8327deb882cf99"}`, code: "INVALID_PASSWORD_HASH", path: "#/password_hash", msg: "$2a$, $2b$ or $2y$"},
		{row: `{"email":"e@example.com","custom_password_hash":{"algorithm":"md5","hash":{"value":"5f4dcc3b5aa765d61d8327deb882cf99"}}}`, code: "INVALID_PASSWORD_HASH", path: "#/custom_password_hash/hash/encoding", msg: "custom_password_hash.hash.encoding: is required"},
		{row: `{"email":"f@example.com","custom_password_hash":{"algorithm":"scrypt","hash":{"value":"x"}}}`, code: "INVALID_PASSWORD_HASH", path: "#/custom_password_hash/algorithm", msg: `"scrypt" is not one of`},
		{row: `{"email":"g@example.com","custom_password_hash":{"algorithm":"md5","hash":{"value":"x","encoding":"hex"},"pepper":"p"}}`, code: "OBJECT_ADDITIONAL_PROPERTIES", path: "#/custom_password_hash", msg: "pepper"},
		{row: `{"email":"h@example.com","custom_password_hash":{"algorithm":"bcrypt","hash":"$2b$10$x"}}`, code: "INVALID_TYPE", path: "#/custom_password_hash/hash", msg: "Expected type object but found type string"},
		{row: `{"email":"i@example.com","custom_password_hash":{"algorithm":"bcrypt"}}`, code: "OBJECT_MISSING_REQUIRED_PROPERTY", path: "#/custom_password_hash/hash", msg: "hash.value"},
		{row: `{"email":"j@example.com","custom_password_hash":{"hash":{"value":"x"}}}`, code: "OBJECT_MISSING_REQUIRED_PROPERTY", path: "#/custom_password_hash", msg: "algorithm"},
		{row: `{"email":"k@example.com","custom_password_hash":{"algorithm":"md5","hash":{"value":"x","encoding":"hex"},"salt":{"position":"prefix"}}}`, code: "OBJECT_MISSING_REQUIRED_PROPERTY", path: "#/custom_password_hash/salt", msg: "value"},
		{row: `{"email":"l@example.com","user_id":"has space"}`, code: "INVALID_FORMAT", path: "#/user_id", msg: "printable characters"},
		{row: `{"email":"m@example.com","picture":"javascript:alert(1)"}`, code: "INVALID_FORMAT", path: "#/picture", msg: "http(s) URL"},
		{row: `{"email":"n@example.com","user_metadata":{"x":"` + strings.Repeat("x", 17<<10) + `"}}`, code: "INVALID_FORMAT", path: "#/user_metadata", msg: "at most 16384"},
		{row: `["not","an","object"]`, code: "INVALID_TYPE", path: "#/", msg: "Expected type object but found type array"},
		{row: `"a string"`, code: "INVALID_TYPE", path: "#/", msg: "found type string"},
	}
	var texts []string
	for _, r := range rows {
		texts = append(texts, r.row)
	}
	job, errs := e.importFile(t, false, texts...)
	if job.Status != store.JobCompleted || job.Type != store.JobUsersImport || job.ExternalID != "ext-1" || job.Connection != store.DefaultDatabaseConnection {
		t.Errorf("job %+v", job)
	}
	want := store.JobSummary{Total: len(rows), Inserted: 3, Failed: len(rows) - 3}
	if job.Summary != want {
		t.Errorf("summary %+v, want %+v", job.Summary, want)
	}
	for i, r := range rows {
		je, failed := errs[i]
		switch {
		case r.code == "" && failed:
			t.Errorf("row %d refused: %+v", i, je.Errors)
		case r.code == "":
		case !failed:
			t.Errorf("row %d written, want %s", i, r.code)
		case len(je.Errors) == 0 || je.Errors[0].Code != r.code || je.Errors[0].Path != r.path || !strings.Contains(je.Errors[0].Message, r.msg):
			t.Errorf("row %d: errors %+v, want %s at %q with %q", i, je.Errors, r.code, r.path, r.msg)
		}
		if failed && (bytes.Contains(je.User, []byte("password_hash")) || bytes.Contains(je.User, []byte("$2b$"))) {
			t.Errorf("row %d: the error hands out the password hash: %s", i, je.User)
		}
	}
	// A failed row comes back as it was, without its hash.
	if got := string(errs[14].User); got != `{"email":"d@example.com"}` {
		t.Errorf("failed row as stored: %s", got)
	}

	ada, err := e.st.GetUser(ctx, "gatehouse|ada")
	if err != nil {
		t.Fatal(err)
	}
	wantAda := store.User{ID: "gatehouse|ada", Connection: store.DefaultDatabaseConnection, Email: "ada@example.com",
		EmailVerified: true, PasswordHash: "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K",
		Name: "Ada Lovelace", Nickname: "countess", Picture: "https://img.example/ada.png", GivenName: "Ada", FamilyName: "Lovelace",
		AppMetadata: map[string]any{"plan": "pro", "roles": []any{"admin"}}, UserMetadata: map[string]any{"theme": "dark"},
		Identities: []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: "gatehouse", UserID: "ada"}},
		CreatedAt:  e.now, UpdatedAt: e.now}
	if fmt.Sprint(ada) != fmt.Sprint(wantAda) {
		t.Errorf("imported user\n%+v\nwant\n%+v", ada, wantAda)
	}
	mary, err := e.st.GetUserByEmail(ctx, store.DefaultDatabaseConnection, "mary@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if mary.Name != "mary@example.com" || mary.Nickname != "mary" || !strings.HasPrefix(mary.ID, "gatehouse|") || len(mary.ID) != len("gatehouse|")+24 ||
		mary.Identities[0].UserID != strings.TrimPrefix(mary.ID, "gatehouse|") {
		t.Errorf("user without name or user_id: %+v", mary)
	}
	if ok, err := database.VerifyPassword("hello", mary.PasswordHash); !ok || err != nil {
		t.Errorf("imported sha256 hash does not verify: %t %v", ok, err)
	}
	if _, err := e.st.GetUser(ctx, "gatehouse|kept-prefix"); err != nil {
		t.Errorf("user_id with the provider's own prefix: %v", err)
	}
	for _, email := range []string{"x@example.com", "t@example.com", "u@example.com", "d@example.com"} {
		if _, err := e.st.GetUserByEmail(ctx, store.DefaultDatabaseConnection, email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refused row %s was written: %v", email, err)
		}
	}
}

// TestImportThenLogin: an imported user logs in through the database
// connection with the password of the other system, and the login
// replaces the imported hash with argon2id.
func TestImportThenLogin(t *testing.T) {
	e := newJobsEnv(t, func(c *mgmt.JobsConfig) { c.Provider = "auth0" })
	job, errs := e.importFile(t, false,
		`{"email":"velma@example.com","user_id":"auth0|velma","custom_password_hash":{"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=10000,l=32$wJuJqLoUFsdXa8k3sFhRlA$2waKCbPhZzL+RjWMQqvA1jpb+j56jTAXcNmRD9UTekU","encoding":"utf8"}}}`)
	if job.Summary.Inserted != 1 || len(errs) != 0 {
		t.Fatalf("import: %+v %+v", job.Summary, errs)
	}
	db, err := database.Open(database.Config{Store: e.st, Provider: "auth0", Params: database.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Login(t.Context(), "velma@example.com", "Test@124"); err == nil {
		t.Fatal("wrong password accepted")
	}
	u, err := db.Login(t.Context(), "velma@example.com", "Test@123")
	if err != nil || u.ID != "auth0|velma" {
		t.Fatalf("login: %+v %v", u, err)
	}
	stored, err := e.st.GetUser(t.Context(), u.ID)
	if err != nil || !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("hash after login %q, %v", stored.PasswordHash, err)
	}
}

func TestImportUpsert(t *testing.T) {
	e := newJobsEnv(t)
	ctx := t.Context()
	old := e.newUser(t, "gatehouse|old", "old@example.com")
	old.Name, old.Nickname, old.GivenName, old.Picture = "Old Name", "oldie", "Olga", "https://img.example/old.png"
	old.PasswordHash, old.AppMetadata, old.UserMetadata = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K", map[string]any{"plan": "free"}, map[string]any{"lang": "fr"}
	if err := e.st.UpdateUser(ctx, old); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Hour)
	job, errs := e.importFile(t, true,
		// Updates what Auth0 upserts; blocked, user_id and password_hash
		// are set only on insert.
		`{"email":"OLD@example.com","user_id":"other","name":"New Name","email_verified":true,"blocked":true,
		  "app_metadata":{"plan":"pro"},"password_hash":"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"}`,
		`{"email":"new@example.com","name":"Newcomer"}`,
		`{"email":"new@example.com","nickname":"second","custom_password_hash":{"algorithm":"md5","hash":{"value":"67A1E09BB1F83F5007DC119C14D663AA","encoding":"hex"},"salt":{"value":"salt","position":"prefix"}}}`,
		`{"email":"bad@example.com","name":7}`)
	want := store.JobSummary{Total: 4, Inserted: 1, Updated: 2, Failed: 1}
	if job.Summary != want || len(errs) != 1 || job.Upsert != true {
		t.Fatalf("summary %+v, errors %+v", job.Summary, errs)
	}
	got, err := e.st.GetUser(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantOld := old
	wantOld.Name, wantOld.EmailVerified, wantOld.AppMetadata, wantOld.UpdatedAt = "New Name", true, map[string]any{"plan": "pro"}, e.now
	if fmt.Sprint(got) != fmt.Sprint(wantOld) {
		t.Errorf("upserted user\n%+v\nwant\n%+v", got, wantOld)
	}
	nu, err := e.st.GetUserByEmail(ctx, store.DefaultDatabaseConnection, "new@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if nu.Name != "Newcomer" || nu.Nickname != "second" || !strings.HasPrefix(nu.PasswordHash, "$digest-md5$") {
		t.Errorf("user inserted then upserted: %+v", nu)
	}
}

func TestImportRefused(t *testing.T) {
	e := newJobsEnv(t, func(c *mgmt.JobsConfig) { c.MaxImportBytes = 200 })
	ctx := t.Context()
	if err := e.st.CreateConnection(ctx, store.Connection{Name: "github", Strategy: store.StrategyGitHub, CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	ok := `[{"email":"a@example.com"}]`
	tests := []struct {
		name   string
		in     mgmt.ImportRequest
		status int
		field  string
		msg    string
	}{
		{"completion email", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(ok), SendCompletionEmail: true},
			http.StatusBadRequest, "send_completion_email", "must be false"},
		{"no connection", mgmt.ImportRequest{Users: strings.NewReader(ok)}, http.StatusBadRequest, "connection_id", "is required"},
		{"unknown connection", mgmt.ImportRequest{Connection: "nope", Users: strings.NewReader(ok)}, http.StatusNotFound, "", `connection "nope" not found`},
		{"social connection", mgmt.ImportRequest{Connection: "github", Users: strings.NewReader(ok)}, http.StatusBadRequest, "connection_id", "only into a database connection"},
		{"no file", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection}, http.StatusBadRequest, "users", "is required"},
		{"long external id", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(ok), ExternalID: strings.Repeat("x", 256)},
			http.StatusBadRequest, "external_id", "longer than 255"},
		{"not JSON", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(`[{"email":"a@example.com"},{email}]`)},
			http.StatusBadRequest, "users", "is not valid JSON near byte 27: invalid character 'e'"},
		{"cut short", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(`[{"email":"a@example.com"`)},
			http.StatusBadRequest, "users", "ends in the middle"},
		{"after the array", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(ok + `{}`)},
			http.StatusBadRequest, "users", "has more after its array"},
		{"empty", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(" \n")}, http.StatusBadRequest, "users", "holds no users"},
		{"empty array", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader("[]")}, http.StatusBadRequest, "users", "holds no users"},
		{"too large", mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader("[" + strings.Repeat(`{"email":"a@example.com"},`, 10) + "{}]")},
			http.StatusBadRequest, "users", "larger than 200 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.jobs.StartImport(ctx, tt.in)
			code := mgmt.CodeInvalidBody
			switch {
			case tt.status == http.StatusNotFound:
				code = "inexistent_connection"
			case tt.name == "social connection":
				code = mgmt.CodeOperationNotSupported
			}
			wantError(t, err, tt.status, code, tt.field, tt.msg)
		})
	}
	if files, _ := os.ReadDir(e.spool); len(files) != 0 {
		t.Errorf("refused uploads left files in the spool: %v", files)
	}
}

// TestImportFileForms: JSON lines and a byte order mark are read as an
// array is.
func TestImportFileForms(t *testing.T) {
	e := newJobsEnv(t)
	for i, file := range []string{
		"{\"email\":\"l1@example.com\"}\n{\"email\":\"l2@example.com\"}\n",
		"\xef\xbb\xbf[{\"email\":\"b1@example.com\"}, {\"email\":\"b2@example.com\"}]\n",
		"  {\"email\":\"c1@example.com\"} {\"email\":\"c2@example.com\"}",
	} {
		job, err := e.jobs.RunImport(t.Context(), mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(file)})
		if err != nil || job.Summary != (store.JobSummary{Total: 2, Inserted: 2}) {
			t.Errorf("file %d: %+v %v", i, job.Summary, err)
		}
	}
}

func TestImportInBackground(t *testing.T) {
	e := newJobsEnv(t)
	var rows []string
	for i := range 2500 { // three batches
		row := fmt.Sprintf(`{"email":"user%d@example.com"}`, i)
		if i%1000 == 999 {
			row = `{"email":"broken"}`
		}
		rows = append(rows, row)
	}
	job, err := e.jobs.StartImport(t.Context(), mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection,
		Users: strings.NewReader("[" + strings.Join(rows, ",") + "]")})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != store.JobPending || job.Summary.Total != 2500 || !strings.HasPrefix(job.ID, "job_") || len(job.ID) != 20 {
		t.Errorf("started job %+v", job)
	}
	job = e.waitJob(t, job.ID)
	if job.Status != store.JobCompleted || job.Summary != (store.JobSummary{Total: 2500, Inserted: 2498, Failed: 2}) {
		t.Errorf("finished job %+v", job)
	}
	errs := e.jobErrors(t, job.ID)
	if len(errs) != 2 || errs[999].Errors[0].Path != "#/email" || errs[1999].Errors[0].Code != "INVALID_FORMAT" {
		t.Errorf("errors %+v", errs)
	}
	if files, _ := os.ReadDir(e.spool); len(files) != 0 {
		t.Errorf("a finished import left files in the spool: %v", files)
	}
	_, err = e.jobs.GetJob(t.Context(), "job_0000000000000000")
	wantError(t, err, http.StatusNotFound, "inexistent_job", "", "not found")
	err = e.jobs.EachJobError(t.Context(), "job_0000000000000000", func(store.JobError) error { return nil })
	wantError(t, err, http.StatusNotFound, "inexistent_job", "", "not found")
}

// waitJob polls the job until it ends.
func (e *jobsEnv) waitJob(t *testing.T, id string) store.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		job, err := e.jobs.GetJob(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if job.Status == store.JobCompleted || job.Status == store.JobFailed {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, job.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blockingStore holds ImportUsers until release is closed, or without
// release until the job's context ends, and can fail it.
type blockingStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	err     error
}

func (b *blockingStore) ImportUsers(ctx context.Context, rows []store.ImportUser) ([]store.ImportResult, error) {
	b.once.Do(func() { close(b.entered) })
	if b.release == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	<-b.release
	if b.err != nil {
		return nil, b.err
	}
	return b.Store.ImportUsers(ctx, rows)
}

// TestJobStops: a job whose server stops is failed, whether the server
// stops cleanly (Close) or dies (its lease runs out); a job the database
// fails is failed too.
func TestJobStops(t *testing.T) {
	file := `[{"email":"a@example.com"},{"email":"b@example.com"}]`
	t.Run("close", func(t *testing.T) {
		var bs *blockingStore
		e := newJobsEnv(t, func(c *mgmt.JobsConfig) {
			bs = &blockingStore{Store: c.Store, entered: make(chan struct{})}
			c.Store = bs
		})
		job, err := e.jobs.StartImport(t.Context(), mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(file)})
		if err != nil {
			t.Fatal(err)
		}
		<-bs.entered
		got, _ := e.jobs.GetJob(t.Context(), job.ID)
		if got.Status != store.JobProcessing {
			t.Errorf("running job is %s", got.Status)
		}
		if err := e.jobs.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		got, _ = e.st.GetJob(t.Context(), job.ID)
		if got.Status != store.JobFailed || !strings.Contains(got.Details, "server stopped") {
			t.Errorf("job after Close: %+v", got)
		}
	})
	t.Run("database error", func(t *testing.T) {
		var bs *blockingStore
		e := newJobsEnv(t, func(c *mgmt.JobsConfig) {
			bs = &blockingStore{Store: c.Store, entered: make(chan struct{}), release: make(chan struct{}), err: store.ErrUnavailable}
			close(bs.release)
			c.Store = bs
		})
		job, err := e.jobs.RunImport(t.Context(), mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: strings.NewReader(file)})
		if err != nil {
			t.Fatal(err)
		}
		if job.Status != store.JobFailed || job.Details != "the job failed on a database error" || job.Summary.Inserted != 0 {
			t.Errorf("job %+v", job)
		}
	})
	t.Run("lease runs out", func(t *testing.T) {
		e := newJobsEnv(t)
		// A job left running by a process that is gone, with its upload.
		dead := store.Job{ID: "job_deaddeaddeaddead", Type: store.JobUsersImport, Status: store.JobProcessing,
			Connection: store.DefaultDatabaseConnection, CreatedAt: e.now, UpdatedAt: e.now,
			LeaseUntil: e.now.Add(time.Minute), ExpiresAt: e.now.Add(24 * time.Hour)}
		live := dead
		live.ID, live.LeaseUntil = "job_1111111111111111", e.now.Add(time.Hour)
		for _, j := range []store.Job{dead, live} {
			if err := e.st.CreateJob(t.Context(), j); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(e.spool, "gatehouse-import-"+j.ID+".json"), []byte("[]"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// Files without a job: one being uploaded right now (by this or
		// another process on the host) stays, one left for hours goes.
		receiving := filepath.Join(e.spool, "gatehouse-import-job_2222222222222222.json")
		stale := filepath.Join(e.spool, "gatehouse-import-job_3333333333333333.json")
		for _, f := range []string{receiving, stale} {
			if err := os.WriteFile(f, []byte("[]"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(stale, old, old); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.jobs.GetJob(t.Context(), dead.ID); got.Status != store.JobProcessing {
			t.Errorf("job within its lease: %+v", got)
		}
		e.now = e.now.Add(2 * time.Minute)
		got, err := e.jobs.GetJob(t.Context(), dead.ID)
		if err != nil || got.Status != store.JobFailed || got.Details != "the server stopped before the job finished" {
			t.Errorf("job past its lease: %+v %v", got, err)
		}
		n, err := e.jobs.Recover(t.Context())
		if err != nil || n != 0 {
			t.Errorf("Recover after GetJob failed the job: %d %v", n, err)
		}
		files, _ := os.ReadDir(e.spool)
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		want := []string{filepath.Base(live.ID), filepath.Base(receiving)}
		if len(names) != 2 || !strings.Contains(names[0], want[0]) || names[1] != want[1] {
			t.Errorf("spool after Recover: %v, want the live job's upload and the file being received", names)
		}
	})
}

func (e *jobsEnv) export(t *testing.T, in mgmt.ExportRequest) []map[string]any {
	t.Helper()
	job, err := e.jobs.StartExport(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != store.JobPending || job.Type != store.JobUsersExport || job.Format != "json" {
		t.Errorf("started export %+v", job)
	}
	job = e.waitJob(t, job.ID)
	if job.Status != store.JobCompleted {
		t.Fatalf("export %+v", job)
	}
	var file bytes.Buffer
	if err := e.jobs.WriteExport(t.Context(), job.ID, &file); err != nil {
		t.Fatal(err)
	}
	if int64(file.Len()) != job.FileSize {
		t.Errorf("file of %d bytes, job says %d", file.Len(), job.FileSize)
	}
	zr, err := gzip.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, plain)
	if job.Summary.Total != len(lines) {
		t.Errorf("summary %+v for %d lines", job.Summary, len(lines))
	}
	// The command line's export writes the same lines, uncompressed.
	var direct bytes.Buffer
	n, err := e.jobs.ExportUsers(t.Context(), in, &direct)
	if err != nil || n != len(lines) || direct.String() != string(plain) {
		t.Errorf("ExportUsers wrote %d users (%v), differently from the job:\n%s\n%s", n, err, direct.String(), plain)
	}
	return lines
}

func parseLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestExport(t *testing.T) {
	e := newJobsEnv(t)
	ctx := t.Context()
	for i := range 2100 {
		u := store.User{ID: fmt.Sprintf("gatehouse|u%04d", i), Connection: store.DefaultDatabaseConnection, Email: fmt.Sprintf("u%04d@example.com", i),
			Name: fmt.Sprintf("User %d", i), CreatedAt: e.now, UpdatedAt: e.now, UserMetadata: map[string]any{"n": float64(i)},
			Identities: []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: "gatehouse", UserID: fmt.Sprintf("u%04d", i)}}}
		if i == 3 {
			u.AppMetadata = map[string]any{"plan": "pro", "tags": []any{"a", "b"}}
			u.LastLogin, u.LoginsCount, u.PasswordHash = e.now.Add(time.Minute), 4, "$argon2id$secret"
		}
		if err := e.st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.CreateConnection(ctx, store.Connection{Name: "github", Strategy: store.StrategyGitHub, CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	gh := store.User{ID: "github|7", Connection: "github", Email: "gh@example.com", CreatedAt: e.now, UpdatedAt: e.now,
		Identities: []store.Identity{{Connection: "github", Provider: "github", UserID: "7"}}}
	if err := e.st.CreateUser(ctx, gh); err != nil {
		t.Fatal(err)
	}

	all := e.export(t, mgmt.ExportRequest{})
	if len(all) != 2101 || all[0]["user_id"] != "gatehouse|u0000" || all[2100]["user_id"] != "github|7" {
		t.Fatalf("export of everyone: %d users, first %v", len(all), all[0])
	}
	want := map[string]any{"user_id": "gatehouse|u0003", "email": "u0003@example.com", "email_verified": false, "name": "User 3",
		"blocked": false, "logins_count": float64(4), "created_at": "2030-01-02T03:04:05.000Z", "updated_at": "2030-01-02T03:04:05.000Z",
		"last_login": "2030-01-02T03:05:05.000Z", "app_metadata": map[string]any{"plan": "pro", "tags": []any{"a", "b"}},
		"user_metadata": map[string]any{"n": float64(3)},
		"identities":    []any{map[string]any{"connection": store.DefaultDatabaseConnection, "provider": "gatehouse", "user_id": "u0003"}}}
	if fmt.Sprint(all[3]) != fmt.Sprint(want) {
		t.Errorf("exported profile\n%v\nwant\n%v", all[3], want)
	}

	some := e.export(t, mgmt.ExportRequest{Connection: store.DefaultDatabaseConnection, Limit: 5, Format: "json", Fields: []store.JobField{
		{Name: "email"}, {Name: "user_metadata.n", ExportAs: "n"}, {Name: "identities[0].connection", ExportAs: "provider"},
		{Name: "app_metadata.tags[1]"}, {Name: "identities[3].user_id"}}})
	if len(some) != 5 {
		t.Fatalf("limited export: %d users", len(some))
	}
	if fmt.Sprint(some[3]) != fmt.Sprint(map[string]any{"email": "u0003@example.com", "n": float64(3), "provider": store.DefaultDatabaseConnection, "app_metadata.tags[1]": "b"}) ||
		fmt.Sprint(some[0]) != fmt.Sprint(map[string]any{"email": "u0000@example.com", "n": float64(0), "provider": store.DefaultDatabaseConnection}) {
		t.Errorf("fields export: %v / %v", some[3], some[0])
	}
	// The fields come in the order asked.
	var line bytes.Buffer
	if _, err := e.jobs.ExportUsers(ctx, mgmt.ExportRequest{Connection: "github", Fields: []store.JobField{{Name: "user_id"}, {Name: "email"}}}, &line); err != nil ||
		line.String() != `{"user_id":"github|7","email":"gh@example.com"}`+"\n" {
		t.Errorf("github export %q %v", line.String(), err)
	}
	if strings.Contains(fmt.Sprint(all), "argon2id") {
		t.Error("an export holds a password hash")
	}
}

func TestExportRefused(t *testing.T) {
	e := newJobsEnv(t)
	tests := []struct {
		name  string
		in    mgmt.ExportRequest
		code  string
		field string
		msg   string
	}{
		{"csv", mgmt.ExportRequest{Format: "csv"}, mgmt.CodeInvalidBody, "format", "csv is not supported"},
		{"xml", mgmt.ExportRequest{Format: "xml"}, mgmt.CodeInvalidBody, "format", `"xml" is not json`},
		{"negative limit", mgmt.ExportRequest{Limit: -1}, mgmt.CodeInvalidBody, "limit", "negative"},
		{"not a path", mgmt.ExportRequest{Fields: []store.JobField{{Name: "user_metadata..x"}}}, mgmt.CodeInvalidBody, "fields", "is not a path"},
		{"unknown field", mgmt.ExportRequest{Fields: []store.JobField{{Name: "password_hash"}}}, mgmt.CodeInvalidBody, "fields", "not a field of the user profile"},
		{"empty field", mgmt.ExportRequest{Fields: []store.JobField{{Name: ""}}}, mgmt.CodeInvalidBody, "fields", "is not a path"},
		{"too many", mgmt.ExportRequest{Fields: make([]store.JobField, 31)}, mgmt.CodeInvalidBody, "fields", "at most 30"},
		{"unknown connection", mgmt.ExportRequest{Connection: "nope"}, "inexistent_connection", "", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.jobs.StartExport(t.Context(), tt.in)
			status := http.StatusBadRequest
			if tt.code == "inexistent_connection" {
				status = http.StatusNotFound
			}
			wantError(t, err, status, tt.code, tt.field, tt.msg)
		})
	}

	// Only a completed export has a file.
	imp, _ := e.importFile(t, false, `{"email":"a@example.com"}`)
	wantError(t, e.jobs.WriteExport(t.Context(), imp.ID, io.Discard), http.StatusBadRequest, mgmt.CodeOperationNotSupported, "", "is not an export")
	pending := store.Job{ID: "job_2222222222222222", Type: store.JobUsersExport, Status: store.JobPending, CreatedAt: e.now, UpdatedAt: e.now,
		LeaseUntil: e.now.Add(time.Minute), ExpiresAt: e.now.Add(time.Hour)}
	if err := e.st.CreateJob(t.Context(), pending); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.jobs.WriteExport(t.Context(), pending.ID, io.Discard), http.StatusBadRequest, mgmt.CodeOperationNotSupported, "", "has not completed")
	wantError(t, e.jobs.WriteExport(t.Context(), "job_nope", io.Discard), http.StatusNotFound, "inexistent_job", "", "not found")
}

func TestExportLinks(t *testing.T) {
	e := newJobsEnv(t)
	tok := e.jobs.ExportToken("job_a")
	if tok == "" || !e.jobs.CheckExportToken("job_a", tok) {
		t.Fatalf("fresh token %q refused", tok)
	}
	if e.jobs.CheckExportToken("job_b", tok) {
		t.Error("a token works for another job")
	}
	b := []byte(tok)
	b[len(b)-1] ^= 1
	for _, bad := range []string{"", "x", string(b), tok + "A"} {
		if e.jobs.CheckExportToken("job_a", bad) {
			t.Errorf("token %q accepted", bad)
		}
	}
	e.now = e.now.Add(15 * time.Minute)
	if e.jobs.CheckExportToken("job_a", tok) {
		t.Error("an expired token accepted")
	}
	other := newJobsEnv(t, func(c *mgmt.JobsConfig) { c.LinkKey = []byte("another key, another key, another") })
	if other.jobs.CheckExportToken("job_a", other.jobs.ExportToken("job_a")) == false || other.jobs.CheckExportToken("job_a", e.jobs.ExportToken("job_a")) {
		t.Error("a token of another key accepted")
	}
	none := newJobsEnv(t, func(c *mgmt.JobsConfig) { c.LinkKey = nil })
	if tok := none.jobs.ExportToken("job_a"); tok != "" || none.jobs.CheckExportToken("job_a", "") {
		t.Errorf("without a key: token %q", tok)
	}
}

func TestNewJobsNeedsStore(t *testing.T) {
	if _, err := mgmt.NewJobs(mgmt.JobsConfig{}); err == nil {
		t.Error("NewJobs without a store succeeded")
	}
	if _, err := mgmt.NewJobs(mgmt.JobsConfig{Store: newEnv(t).st, Provider: "a|b"}); err == nil {
		t.Error("provider with '|' accepted")
	}
}
