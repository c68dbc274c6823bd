package mgmt

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gatehouse/internal/store"
)

// ExportRequest is a bulk user export: Auth0's users-exports job.
type ExportRequest struct {
	// Connection limits the export to one connection; "" exports every
	// user.
	Connection string
	// Format is the file's format: "json" (JSON lines, one user a line;
	// the default). Auth0's "csv" is not supported.
	Format string
	// Limit caps how many users are exported; 0 exports all.
	Limit int
	// Fields are the fields of each user, in order; none exports the whole
	// profile.
	Fields []store.JobField
}

// maxExportFields is how many fields an export may name, as Auth0 allows.
const maxExportFields = 30

// exportPage is how many users one read of an export fetches.
const exportPage = 1000

// exportPart is the size of the parts an export's file is stored in.
const exportPart = 1 << 20

// profileFields are the top-level fields of an exported profile, which
// field paths start with.
var profileFields = []string{"user_id", "email", "email_verified", "name", "nickname", "picture", "given_name",
	"family_name", "blocked", "created_at", "updated_at", "last_login", "logins_count", "identities",
	"app_metadata", "user_metadata"}

// fieldPath is a field name: a profile field followed by .property or
// [index] steps.
var fieldPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*((\.[A-Za-z0-9_$-]+)|(\[[0-9]{1,4}\]))*$`)

// checkExport checks an export request and returns it with its defaults.
func (j *Jobs) checkExport(ctx context.Context, in ExportRequest) (ExportRequest, error) {
	switch in.Format {
	case "", "json":
		in.Format = "json"
	case "csv":
		return in, invalid("format", "format csv is not supported: use json (JSON lines, one user a line)")
	default:
		return in, invalid("format", "format %q is not json", in.Format)
	}
	if in.Limit < 0 {
		return in, invalid("limit", "limit must not be negative")
	}
	if len(in.Fields) > maxExportFields {
		return in, invalid("fields", "fields names %d fields; at most %d may be exported", len(in.Fields), maxExportFields)
	}
	for _, f := range in.Fields {
		top, _, _ := strings.Cut(strings.SplitN(f.Name, "[", 2)[0], ".")
		switch {
		case !fieldPath.MatchString(f.Name):
			return in, invalid("fields", "field name %q is not a path such as email, user_metadata.plan or identities[0].connection", f.Name)
		case !slices.Contains(profileFields, top):
			return in, invalid("fields", "field %q is not a field of the user profile: use %s", f.Name, strings.Join(profileFields, ", "))
		case len(f.ExportAs) > 100:
			return in, invalid("fields", "export_as of field %q is longer than 100 characters", f.Name)
		}
	}
	if in.Connection != "" {
		if _, err := j.st.GetConnection(ctx, in.Connection); err != nil {
			return in, notFound(err, "connection", in.Connection)
		}
	}
	return in, nil
}

// StartExport checks the request and starts the export in the background.
// It returns the pending job; once completed, its file (gzip-compressed
// JSON lines, as Auth0's exports are) is read with WriteExport.
func (j *Jobs) StartExport(ctx context.Context, in ExportRequest) (store.Job, error) {
	in, err := j.checkExport(ctx, in)
	if err != nil {
		return store.Job{}, err
	}
	job := j.newJob(store.JobUsersExport, in.Connection)
	job.Format, job.Limit, job.Fields = in.Format, in.Limit, in.Fields
	if err := j.st.CreateJob(ctx, job); err != nil {
		return store.Job{}, fmt.Errorf("create job: %w", err)
	}
	j.launch(job, func(ctx context.Context, r *runner) error {
		pw := &partWriter{ctx: ctx, st: j.st, jobID: job.ID}
		zw := gzip.NewWriter(pw)
		n, err := j.exportUsers(ctx, in, zw, r)
		if err == nil {
			err = zw.Close()
		}
		if err == nil {
			err = pw.flush()
		}
		r.job.Summary.Total, r.job.Summary.Inserted, r.job.FileSize = n, n, pw.size
		return err
	})
	return job, nil
}

// ExportUsers writes the users the request selects to w, as JSON lines,
// and returns how many it wrote (the command line's export).
func (j *Jobs) ExportUsers(ctx context.Context, in ExportRequest, w io.Writer) (int, error) {
	in, err := j.checkExport(ctx, in)
	if err != nil {
		return 0, err
	}
	return j.exportUsers(ctx, in, w, nil)
}

// exportUsers writes the users page by page, renewing the job's lease
// when there is a job.
func (j *Jobs) exportUsers(ctx context.Context, in ExportRequest, w io.Writer, r *runner) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	n, after := 0, ""
	for in.Limit == 0 || n < in.Limit {
		page := exportPage
		if in.Limit > 0 {
			page = min(page, in.Limit-n)
		}
		users, err := j.st.ListUsersAfter(ctx, in.Connection, after, page)
		if err != nil {
			return n, fmt.Errorf("export users: %w", err)
		}
		for _, u := range users {
			line, err := exportLine(u, in.Fields)
			if err != nil {
				return n, fmt.Errorf("export user %s: %w", u.ID, err)
			}
			if _, err := bw.Write(line); err != nil {
				return n, fmt.Errorf("export users: %w", err)
			}
			n++
		}
		if len(users) < page {
			break
		}
		after = users[len(users)-1].ID
		if r != nil {
			r.job.Summary.Total = n
			if err := r.progress(ctx); err != nil {
				return n, err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export users: %w", err)
	}
	return n, nil
}

// exportTime is the format of times in exported profiles, Auth0's.
const exportTime = "2006-01-02T15:04:05.000Z"

// Profile is a user in the shape of Auth0's user profile: what exports
// write and export field paths walk. Absent values are left out.
func Profile(u store.User) map[string]any {
	p := map[string]any{
		"user_id":        u.ID,
		"email_verified": u.EmailVerified,
		"blocked":        u.Blocked,
		"logins_count":   u.LoginsCount,
		"created_at":     u.CreatedAt.UTC().Format(exportTime),
		"updated_at":     u.UpdatedAt.UTC().Format(exportTime),
	}
	for k, v := range map[string]string{"email": u.Email, "name": u.Name, "nickname": u.Nickname, "picture": u.Picture,
		"given_name": u.GivenName, "family_name": u.FamilyName} {
		if v != "" {
			p[k] = v
		}
	}
	if !u.LastLogin.IsZero() {
		p["last_login"] = u.LastLogin.UTC().Format(exportTime)
	}
	ids := make([]any, len(u.Identities))
	for i, id := range u.Identities {
		ids[i] = map[string]any{"connection": id.Connection, "provider": id.Provider, "user_id": id.UserID}
	}
	p["identities"] = ids
	if u.AppMetadata != nil {
		p["app_metadata"] = u.AppMetadata
	}
	if u.UserMetadata != nil {
		p["user_metadata"] = u.UserMetadata
	}
	return p
}

// exportLine is the JSON line of one user: the whole profile, or the
// fields in their order under their export names. A field the user lacks
// is left out.
func exportLine(u store.User, fields []store.JobField) ([]byte, error) {
	p := Profile(u)
	if len(fields) == 0 {
		b, err := json.Marshal(p)
		return append(b, '\n'), err
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for _, f := range fields {
		v, ok := lookup(p, f.Name)
		if !ok {
			continue
		}
		name := f.ExportAs
		if name == "" {
			name = f.Name
		}
		k, _ := json.Marshal(name)
		val, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(val)
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

// lookup walks a field path ("identities[0].connection") through a
// profile.
func lookup(v any, path string) (any, bool) {
	for path != "" {
		switch {
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			i, _ := strconv.Atoi(path[1:end])
			list, ok := v.([]any)
			if !ok || i >= len(list) {
				return nil, false
			}
			v, path = list[i], path[end+1:]
		default:
			path = strings.TrimPrefix(path, ".")
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[path[:end]]; !ok {
				return nil, false
			}
			path = path[end:]
		}
	}
	return v, true
}

// partWriter stores what is written to it as the parts of a job's file.
type partWriter struct {
	ctx   context.Context
	st    store.JobStore
	jobID string
	buf   []byte
	seq   int
	size  int64
}

func (w *partWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for len(w.buf) >= exportPart {
		if err := w.store(w.buf[:exportPart]); err != nil {
			return 0, err
		}
		w.buf = append(w.buf[:0], w.buf[exportPart:]...)
	}
	return len(p), nil
}

func (w *partWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.store(w.buf)
	w.buf = w.buf[:0]
	return err
}

func (w *partWriter) store(part []byte) error {
	if err := w.st.AppendJobFile(w.ctx, w.jobID, w.seq, part); err != nil {
		return fmt.Errorf("store export file: %w", err)
	}
	w.seq++
	w.size += int64(len(part))
	return nil
}

// ExportFileName is the name of an export's file.
func ExportFileName(job store.Job) string { return job.ID + ".json.gz" }

// WriteExport writes the file of a completed export job to w:
// gzip-compressed JSON lines. A job that is no export, or has not
// completed, is refused.
func (j *Jobs) WriteExport(ctx context.Context, jobID string, w io.Writer) error {
	job, err := j.GetJob(ctx, jobID)
	if err != nil {
		return err
	}
	if job.Type != store.JobUsersExport {
		return refused("", "job %s is not an export", job.ID)
	}
	if job.Status != store.JobCompleted {
		return refused("", "export %s has not completed: it is %s", job.ID, job.Status)
	}
	return j.st.ReadJobFile(ctx, job.ID, func(part []byte) error {
		_, err := w.Write(part)
		return err
	})
}
