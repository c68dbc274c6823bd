package mgmt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gatehouse/internal/connector/database"
	"gatehouse/internal/store"
)

// ImportRequest is a bulk user import: Auth0's users-imports job.
type ImportRequest struct {
	// Connection is the database connection the users go to.
	Connection string
	// Users is the users file: a JSON array of users in Auth0's bulk
	// import schema, or the same users as JSON lines (one object a line,
	// what ExportUsers writes).
	Users io.Reader
	// Upload, instead of Users, is a users file received before the rest
	// of the request (ReceiveUsers): a multipart upload may send the file
	// before the fields. The import takes it over, or discards it when
	// the request is refused.
	Upload *Upload
	// Upsert updates the users whose email the connection has already,
	// instead of reporting them as failed rows.
	Upsert bool
	// ExternalID is the caller's reference for the job, kept as given.
	ExternalID string
	// SendCompletionEmail must be false: Gatehouse sends no email about
	// jobs.
	SendCompletionEmail bool
}

// Files of the spool directory: an upload waiting for its job.
const (
	spoolPrefix = "gatehouse-import-"
	spoolSuffix = ".json"
)

// StartImport checks the request, stores the users file in the spool
// directory, checking that it is JSON as it goes, and starts the import in
// the background. It returns the pending job. Rows are checked by the job:
// a row that is not a valid user becomes one of the job's errors.
func (j *Jobs) StartImport(ctx context.Context, in ImportRequest) (store.Job, error) {
	job, path, err := j.prepareImport(ctx, in)
	if err != nil {
		return store.Job{}, err
	}
	j.launch(job, func(ctx context.Context, r *runner) error { return j.importFile(ctx, r, path) })
	return job, nil
}

// RunImport is StartImport that runs the import in the caller's goroutine
// and returns the job as it ended (the command line's import).
func (j *Jobs) RunImport(ctx context.Context, in ImportRequest) (store.Job, error) {
	job, path, err := j.prepareImport(ctx, in)
	if err != nil {
		return store.Job{}, err
	}
	return j.run(ctx, job, func(ctx context.Context, r *runner) error { return j.importFile(ctx, r, path) }), nil
}

// Upload is a users file received and checked, in the spool directory,
// waiting for the import that takes it.
type Upload struct {
	id   string // the ID of the job it is for
	path string
	rows int
}

// Rows is how many rows the file holds.
func (u *Upload) Rows() int { return u.rows }

// Discard removes the file of an upload no import took.
func (u *Upload) Discard() {
	if u != nil {
		_ = os.Remove(u.path)
	}
}

// ReceiveUsers stores a users file in the spool directory, checking as it
// goes that it is JSON users within the size limit (a 400 otherwise).
func (j *Jobs) ReceiveUsers(users io.Reader) (*Upload, error) {
	u := &Upload{id: randomID("job_")}
	u.path = filepath.Join(j.spool, spoolPrefix+u.id+spoolSuffix)
	n, err := j.spoolFile(u.path, users)
	if err != nil {
		_ = os.Remove(u.path)
		return nil, err
	}
	u.rows = n
	return u, nil
}

// prepareImport checks the request, spools the file and creates the job.
func (j *Jobs) prepareImport(ctx context.Context, in ImportRequest) (store.Job, string, error) {
	// prepareUpload sets in.Upload when it receives Users: on any
	// refusal, the file goes whichever way it came.
	job, path, err := j.prepareUpload(ctx, &in)
	if err != nil {
		in.Upload.Discard()
	}
	return job, path, err
}

func (j *Jobs) prepareUpload(ctx context.Context, in *ImportRequest) (store.Job, string, error) {
	if in.SendCompletionEmail {
		return store.Job{}, "", invalid("send_completion_email",
			"send_completion_email must be false: Gatehouse sends no email when a job completes")
	}
	if len(in.ExternalID) > 255 {
		return store.Job{}, "", invalid("external_id", "external_id is longer than 255 characters")
	}
	if err := j.checkImportConnection(ctx, in.Connection); err != nil {
		return store.Job{}, "", err
	}
	if in.Users == nil && in.Upload == nil {
		return store.Job{}, "", invalid("users", "a users file is required")
	}
	if in.Upload == nil {
		var err error
		if in.Upload, err = j.ReceiveUsers(in.Users); err != nil {
			return store.Job{}, "", err
		}
	}
	job := j.newJob(store.JobUsersImport, in.Connection)
	job.ID = in.Upload.id
	job.ExternalID, job.Upsert, job.Summary.Total = in.ExternalID, in.Upsert, in.Upload.rows
	if err := j.st.CreateJob(ctx, job); err != nil {
		return store.Job{}, "", fmt.Errorf("create job: %w", err)
	}
	return job, in.Upload.path, nil
}

func (j *Jobs) checkImportConnection(ctx context.Context, name string) error {
	if name == "" {
		return invalid("connection_id", "connection_id is required: the database connection to import the users into")
	}
	c, err := j.st.GetConnection(ctx, name)
	if err != nil {
		return notFound(err, "connection", name)
	}
	if c.Strategy != store.StrategyDatabase {
		return refused("connection_id", "users can be imported only into a database connection; %q is a %s connection", name, c.Strategy)
	}
	return nil
}

// spoolFile copies the users file to path, checking as it copies that it
// is JSON users within the size limit, and returns how many rows it holds.
func (j *Jobs) spoolFile(path string, users io.Reader) (int, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("spool users file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	lr := &io.LimitedReader{R: users, N: j.maxBytes + 1}
	tee := io.TeeReader(lr, w)
	n, rowsErr := eachRow(tee, func(int, []byte) error { return nil })
	// The decoder may stop before the end (after an error); the rest
	// still counts against the limit, but needs no copy.
	if _, err := io.Copy(io.Discard, tee); err != nil && rowsErr == nil {
		rowsErr = err
	}
	err = errors.Join(w.Flush(), f.Close())
	switch {
	case lr.N <= 0:
		return 0, invalid("users", "the users file is larger than %d bytes", j.maxBytes)
	case rowsErr != nil:
		var fe *fileError
		if errors.As(rowsErr, &fe) {
			return 0, invalid("users", "the users file %s", fe.msg)
		}
		return 0, fmt.Errorf("read users file: %w", rowsErr)
	case err != nil:
		return 0, fmt.Errorf("spool users file: %w", err)
	case n == 0:
		return 0, invalid("users", "the users file holds no users")
	}
	return n, nil
}

// fileError is a users file that is not JSON users.
type fileError struct{ msg string }

func (e *fileError) Error() string { return e.msg }

// eachRow calls fn with each row of a users file, a JSON array or JSON
// lines (one value after another), and returns how many there were. A
// file that is neither is a *fileError saying where.
func eachRow(r io.Reader, fn func(i int, row []byte) error) (int, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	dec := json.NewDecoder(br)
	syntax := func(err error) error {
		var se *json.SyntaxError
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return &fileError{fmt.Sprintf("is not valid JSON near byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))}
		case errors.As(err, &ute), errors.Is(err, io.ErrUnexpectedEOF):
			return &fileError{fmt.Sprintf("ends in the middle of a JSON value at byte %d", dec.InputOffset())}
		}
		return err
	}
	n := 0
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return 0, syntax(err)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return n, syntax(err)
			}
			if err := fn(n, raw); err != nil {
				return n, err
			}
			n++
		}
		if _, err := dec.Token(); err != nil {
			return n, syntax(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return n, &fileError{fmt.Sprintf("has more after its array, at byte %d", dec.InputOffset())}
		}
		return n, nil
	}
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, syntax(err)
		}
		if err := fn(n, raw); err != nil {
			return n, err
		}
		n++
	}
}

// peekNonSpace returns the first byte of r that is not JSON white space,
// without consuming it; io.EOF when there is none.
func peekNonSpace(r *bufio.Reader) (byte, error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		case 0xef: // a UTF-8 byte order mark, as some editors write
			if bom, _ := r.Peek(2); bytes.Equal(bom, []byte{0xbb, 0xbf}) {
				_, _ = r.Discard(2)
				continue
			}
		}
		return b, r.UnreadByte()
	}
}

// importFile runs an import from the spooled file, and removes it.
func (j *Jobs) importFile(ctx context.Context, r *runner, path string) error {
	defer os.Remove(path)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open spooled users file: %w", err)
	}
	defer f.Close()

	// The rows are parsed in one goroutine and written in another, so
	// that parsing the next batch overlaps the database writing this one.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The parser reads a copy of the job: the writer changes its summary.
	job := r.job
	batches := make(chan []parsedRow, 2)
	parseErr := make(chan error, 1)
	go func() {
		defer close(batches)
		var batch []parsedRow
		send := func() bool {
			select {
			case batches <- batch:
				batch = nil
				return true
			case <-ctx.Done():
				return false
			}
		}
		_, err := eachRow(f, func(i int, raw []byte) error {
			batch = append(batch, j.parseRow(i, raw, job))
			if len(batch) == importBatch && !send() {
				return ctx.Err()
			}
			return nil
		})
		if err == nil && len(batch) > 0 && !send() {
			err = ctx.Err()
		}
		parseErr <- err
	}()
	for batch := range batches {
		if err := j.writeBatch(ctx, r, batch); err != nil {
			cancel()
			for range batches { // let the parser end
			}
			return err
		}
		if err := r.progress(ctx); err != nil {
			cancel()
			for range batches {
			}
			return err
		}
	}
	if err := <-parseErr; err != nil {
		return fmt.Errorf("read spooled users file: %w", err)
	}
	return ctx.Err()
}

// writeBatch writes the valid rows of a batch and records the others.
func (j *Jobs) writeBatch(ctx context.Context, r *runner, batch []parsedRow) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var rows []store.ImportUser
	var idx []int // index in batch of each of rows
	var failed []store.JobError
	for i, p := range batch {
		if len(p.errs) > 0 {
			failed = append(failed, store.JobError{Row: p.index, User: redactRow(p.raw), Errors: p.errs})
			continue
		}
		rows = append(rows, p.user)
		idx = append(idx, i)
	}
	results, err := j.st.ImportUsers(ctx, rows)
	if err != nil {
		return fmt.Errorf("import users: %w", err)
	}
	for k, res := range results {
		switch {
		case res.Err != nil && errors.Is(res.Err, store.ErrConflict):
			p := batch[idx[k]]
			failed = append(failed, store.JobError{Row: p.index, User: redactRow(p.raw), Errors: []store.RowError{{
				Code: rowDuplicate, Message: "the user already exists: its email or user_id is taken in the connection"}}})
		case res.Err != nil:
			return fmt.Errorf("import users: %w", res.Err)
		case res.Updated:
			r.job.Summary.Updated++
		default:
			r.job.Summary.Inserted++
		}
	}
	if len(failed) > 0 {
		sort.Slice(failed, func(a, b int) bool { return failed[a].Row < failed[b].Row })
		if err := j.st.AddJobErrors(ctx, r.job.ID, failed); err != nil {
			return fmt.Errorf("record failed rows: %w", err)
		}
		r.job.Summary.Failed += len(failed)
	}
	return nil
}

// Codes of row errors. The schema codes are those of the JSON schema
// validator whose messages Auth0's job errors carry.
const (
	rowMissing      = "OBJECT_MISSING_REQUIRED_PROPERTY"
	rowAdditional   = "OBJECT_ADDITIONAL_PROPERTIES"
	rowType         = "INVALID_TYPE"
	rowFormat       = "INVALID_FORMAT"
	rowNotSupported = "NOT_SUPPORTED"
	rowHash         = "INVALID_PASSWORD_HASH"
	rowDuplicate    = "DUPLICATED_USER"
)

// parsedRow is one row of a users file, checked: the user to write, or
// why it cannot be.
type parsedRow struct {
	index int
	raw   []byte
	user  store.ImportUser
	errs  []store.RowError
}

// rowFields are the properties of a user in Auth0's bulk import schema
// that Gatehouse keeps, and the JSON type of each.
var rowFields = map[string]string{
	"email": "string", "email_verified": "boolean", "user_id": "string",
	"given_name": "string", "family_name": "string", "name": "string", "nickname": "string",
	"picture": "string", "blocked": "boolean", "password_hash": "string",
	"custom_password_hash": "object", "app_metadata": "object", "user_metadata": "object",
}

// unsupportedFields are properties of Auth0's schema that Gatehouse has no
// place for; a row with one is refused rather than imported without it.
var unsupportedFields = map[string]string{
	"username":       "Gatehouse's database users sign in with their email address and have no username",
	"phone_number":   "Gatehouse keeps no phone numbers",
	"phone_verified": "Gatehouse keeps no phone numbers",
	"mfa_factors":    "second factors cannot be imported; users enroll again",
}

// reservedAppMetadata are the app_metadata properties Auth0's schema
// forbids: names of the profile's own fields.
var reservedAppMetadata = []string{"__tenant", "_id", "blocked", "clientID", "created_at", "email_verified", "email",
	"globalClientID", "global_client_id", "identities", "lastIP", "lastLogin", "loginsCount", "metadata",
	"multifactor_last_modified", "multifactor", "updated_at", "user_id"}

// rowChecker gathers the errors of one row.
type rowChecker struct {
	fields map[string]json.RawMessage
	errs   []store.RowError
}

func (c *rowChecker) fail(code, path, format string, args ...any) {
	c.errs = append(c.errs, store.RowError{Code: code, Message: fmt.Sprintf(format, args...), Path: path})
}

// rule records the refusal of one of the service's rules, if any.
func (c *rowChecker) rule(path string, err error) {
	var me *Error
	if errors.As(err, &me) {
		c.fail(rowFormat, path, "%s", me.Message)
	}
}

// get decodes the property into dst when present and of the type the
// schema says; it reports whether it did.
func (c *rowChecker) get(name string, dst any) bool {
	raw, ok := c.fields[name]
	if !ok {
		return false
	}
	if want, got := rowFields[name], jsonType(raw); got != want {
		c.fail(rowType, "#/"+name, "Expected type %s but found type %s", want, got)
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		c.fail(rowType, "#/"+name, "Expected type %s", rowFields[name])
		return false
	}
	return true
}

// jsonType names the JSON type of a value by its first byte.
func jsonType(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// parseRow checks one row against the schema and builds the user it
// imports.
func (j *Jobs) parseRow(index int, raw []byte, job store.Job) parsedRow {
	p := parsedRow{index: index, raw: raw}
	c := rowChecker{}
	if t := jsonType(raw); t != "object" {
		c.fail(rowType, "#/", "Expected type object but found type %s", t)
		p.errs = c.errs
		return p
	}
	if err := json.Unmarshal(raw, &c.fields); err != nil {
		c.fail(rowType, "#/", "Expected type object")
		p.errs = c.errs
		return p
	}
	var unknown []string
	for name := range c.fields {
		if why, ok := unsupportedFields[name]; ok {
			c.fail(rowNotSupported, "#/"+name, "%s is not supported: %s", name, why)
		} else if _, ok := rowFields[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		c.fail(rowAdditional, "#/", "Additional properties not allowed: %s", strings.Join(unknown, ","))
	}

	now := j.now()
	u := store.User{Connection: job.Connection, CreatedAt: now, UpdatedAt: now}
	var email string
	if _, ok := c.fields["email"]; !ok {
		c.fail(rowMissing, "#/", "Missing required property: email")
	} else if c.get("email", &email) {
		norm, err := database.NormalizeEmail(email)
		if err != nil {
			c.fail(rowFormat, "#/email", "Object didn't pass validation for format email: %s", email)
		}
		u.Email = norm
	}
	c.get("email_verified", &u.EmailVerified)
	c.get("blocked", &u.Blocked)
	for name, dst := range map[string]*string{"name": &u.Name, "nickname": &u.Nickname, "given_name": &u.GivenName,
		"family_name": &u.FamilyName} {
		if c.get(name, dst) {
			*dst = strings.TrimSpace(*dst)
		}
	}
	// The rules of CreateUser apply to imported users too.
	if c.get("picture", &u.Picture) {
		c.rule("#/picture", checkPicture(u.Picture))
	}
	if c.get("app_metadata", &u.AppMetadata) {
		for _, k := range reservedAppMetadata {
			if _, ok := u.AppMetadata[k]; ok {
				c.fail(rowFormat, "#/app_metadata/"+k, "app_metadata must not have the property %s: it is a field of the profile", k)
			}
		}
		c.rule("#/app_metadata", checkMetadata(u.AppMetadata, "app_metadata"))
	}
	if c.get("user_metadata", &u.UserMetadata) {
		c.rule("#/user_metadata", checkMetadata(u.UserMetadata, "user_metadata"))
	}

	id := randomHex(12)
	var userID string
	if c.get("user_id", &userID) {
		rest, own := strings.CutPrefix(userID, j.provider+"|")
		switch {
		case !own && strings.Contains(rest, "|"):
			prefix, _, _ := strings.Cut(rest, "|")
			c.fail(rowFormat, "#/user_id", "user_id %q has the prefix of another provider: database users here are %q; "+
				"leave the prefix out, or set user_id_provider to %q", userID, j.provider+"|…", prefix)
		case !userIDPart(rest):
			c.fail(rowFormat, "#/user_id", "user_id must be 1 to 128 printable characters without '|' or spaces")
		default:
			id = rest
		}
	}
	u.ID = j.provider + "|" + id
	u.Identities = []store.Identity{{Connection: job.Connection, Provider: j.provider, UserID: id}}

	c.passwordHash(&u)

	if u.Name == "" {
		u.Name = u.Email
	}
	if u.Nickname == "" {
		u.Nickname, _, _ = strings.Cut(u.Email, "@")
	}
	p.errs = c.errs
	p.user = store.ImportUser{User: u}
	if job.Upsert && len(p.errs) == 0 {
		p.user.Update = upsert(c.fields, u)
	}
	return p
}

// hashSpecJSON is custom_password_hash as Auth0's schema has it.
type hashSpecJSON struct {
	Algorithm string `json:"algorithm"`
	Hash      *struct {
		Value    *string `json:"value"`
		Encoding string  `json:"encoding"`
		Digest   string  `json:"digest"`
		Key      *struct {
			Value    *string `json:"value"`
			Encoding string  `json:"encoding"`
		} `json:"key"`
	} `json:"hash"`
	Salt *struct {
		Value    *string `json:"value"`
		Encoding string  `json:"encoding"`
		Position string  `json:"position"`
	} `json:"salt"`
	Password *struct {
		Encoding string `json:"encoding"`
	} `json:"password"`
}

// passwordHash checks password_hash or custom_password_hash and sets the
// user's hash from it.
func (c *rowChecker) passwordHash(u *store.User) {
	_, plain := c.fields["password_hash"]
	_, custom := c.fields["custom_password_hash"]
	if plain && custom {
		c.fail(rowFormat, "#/", "password_hash and custom_password_hash are mutually exclusive")
		return
	}
	var spec database.HashSpec
	var path string
	switch {
	case plain:
		var h string
		if !c.get("password_hash", &h) {
			return
		}
		spec, path = database.HashSpec{Algorithm: database.AlgBcrypt, Hash: h}, "#/password_hash"
	case custom:
		var ok bool
		if spec, ok = c.customHash(); !ok {
			return
		}
		path = "#/custom_password_hash/"
	default:
		return
	}
	hash, err := database.ImportHash(spec)
	var se *database.SpecError
	switch {
	case errors.As(err, &se) && plain:
		c.fail(rowHash, path, "password_hash: %s", se.Message)
	case errors.As(err, &se):
		c.fail(rowHash, path+strings.ReplaceAll(se.Field, ".", "/"), "custom_password_hash.%s: %s", se.Field, se.Message)
	case err != nil:
		c.fail(rowHash, path, "%v", err)
	default:
		u.PasswordHash = hash
	}
}

// customHash decodes custom_password_hash strictly: unknown properties
// and wrong types are errors of the row.
func (c *rowChecker) customHash() (database.HashSpec, bool) {
	raw, ok := c.fields["custom_password_hash"]
	if !ok {
		return database.HashSpec{}, false
	}
	const path = "#/custom_password_hash"
	if t := jsonType(raw); t != "object" {
		c.fail(rowType, path, "Expected type object but found type %s", t)
		return database.HashSpec{}, false
	}
	var h hashSpecJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			c.fail(rowType, path+"/"+strings.ReplaceAll(ute.Field, ".", "/"), "Expected type %s but found type %s", jsonTypeOf(ute.Type.String()), ute.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			c.fail(rowAdditional, path, "Additional properties not allowed: %s", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
		default:
			c.fail(rowType, path, "Expected type object")
		}
		return database.HashSpec{}, false
	}
	if h.Algorithm == "" {
		c.fail(rowMissing, path, "Missing required property: algorithm")
	}
	if h.Hash == nil || h.Hash.Value == nil {
		c.fail(rowMissing, path+"/hash", "Missing required property: hash.value")
		return database.HashSpec{}, false
	}
	spec := database.HashSpec{Algorithm: h.Algorithm, Hash: *h.Hash.Value, Encoding: h.Hash.Encoding, Digest: h.Hash.Digest}
	if k := h.Hash.Key; k != nil {
		if k.Value == nil {
			c.fail(rowMissing, path+"/hash/key", "Missing required property: value")
			return database.HashSpec{}, false
		}
		spec.Key, spec.KeyEncoding = *k.Value, k.Encoding
		if spec.Key == "" {
			c.fail(rowFormat, path+"/hash/key/value", "hash.key.value must not be empty")
			return database.HashSpec{}, false
		}
	}
	if s := h.Salt; s != nil {
		if s.Value == nil {
			c.fail(rowMissing, path+"/salt", "Missing required property: value")
			return database.HashSpec{}, false
		}
		spec.Salt, spec.SaltEncoding, spec.SaltPosition = *s.Value, s.Encoding, s.Position
		if spec.Salt == "" {
			c.fail(rowFormat, path+"/salt/value", "salt.value must not be empty")
			return database.HashSpec{}, false
		}
	}
	if h.Password != nil {
		spec.PasswordEncoding = h.Password.Encoding
	}
	return spec, h.Algorithm != ""
}

// jsonTypeOf names the JSON type of a Go type in a decoding error.
func jsonTypeOf(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "string"
	case strings.HasPrefix(goType, "*struct") || strings.HasPrefix(goType, "struct"):
		return "object"
	}
	return goType
}

// upsert returns the change an upsert row makes to an existing user: the
// properties the row has that an upsert changes, taken from u (the row as
// a new user). They are those of Auth0's table of import properties; the
// rest (email, user_id, blocked, password_hash) are set only on insert.
func upsert(fields map[string]json.RawMessage, u store.User) func(*store.User) {
	return func(e *store.User) {
		for name := range fields {
			switch name {
			case "app_metadata":
				e.AppMetadata = u.AppMetadata
			case "user_metadata":
				e.UserMetadata = u.UserMetadata
			case "email_verified":
				e.EmailVerified = u.EmailVerified
			case "given_name":
				e.GivenName = u.GivenName
			case "family_name":
				e.FamilyName = u.FamilyName
			case "name":
				e.Name = u.Name
			case "nickname":
				e.Nickname = u.Nickname
			case "picture":
				e.Picture = u.Picture
			case "custom_password_hash":
				e.PasswordHash = u.PasswordHash
			}
		}
		e.UpdatedAt = u.UpdatedAt
	}
}

// redactRow returns the row for the job's errors without its password
// hash, which the errors endpoint must not hand out.
func redactRow(raw []byte) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		if jsonType(raw) == "string" {
			return []byte(`"[redacted]"`) // a string row could be anything
		}
		return raw
	}
	delete(fields, "password_hash")
	delete(fields, "custom_password_hash")
	b, err := json.Marshal(fields)
	if err != nil {
		return []byte(`{}`)
	}
	return b
}
