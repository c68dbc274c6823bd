package mgmtapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

// jobRoutes adds the routes of bulk user jobs, run by jobs.
func (a *API) jobRoutes(jobs *mgmt.Jobs) {
	a.jobs = jobs
	a.add("POST", "/jobs/users-imports", "Create an import users job (multipart/form-data: users, connection_id, upsert, external_id, send_completion_email)",
		a.importUsers, "create:users").returns(201, jobJSON{})
	a.add("POST", "/jobs/users-exports", "Create an export users job", a.exportUsers, "read:users").accepts(exportBody{}).returns(201, jobJSON{})
	a.add("GET", "/jobs/{id}", "Get a job", a.getJob, "create:users", "read:users").returns(200, jobJSON{})
	a.add("GET", "/jobs/{id}/errors", "Get the failed rows of an import job", a.jobErrors, "create:users", "read:users").returns(200, []jobErrorJSON{})
}

// exportFilePath is where an export's file is downloaded, with the token
// of a signed link: the job's location.
const exportFilePath = "/jobs/{id}/file"

// mountJobFiles serves the files of exports at their signed links. It is
// not one of the routes: the link's signature, not a bearer token,
// authorizes the download, so that a plain GET of the location works, as
// tools written for the hosted service make it.
func (a *API) mountJobFiles(mux *http.ServeMux) {
	mux.HandleFunc(Prefix+exportFilePath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, &mgmt.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)})
			return
		}
		if err := a.downloadExport(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// jobsOrFail returns the jobs service, or the error of a server built
// without one.
func (a *API) jobsOrFail() (*mgmt.Jobs, error) {
	if a.jobs == nil {
		return nil, &mgmt.Error{Status: http.StatusNotImplemented, Code: "not_implemented", Message: "Jobs are not enabled on this server"}
	}
	return a.jobs, nil
}

// summaryJSON counts an import's rows.
type summaryJSON struct {
	Total    int `json:"total"`
	Inserted int `json:"inserted"`
	Updated  int `json:"updated"`
	Failed   int `json:"failed"`
}

// fieldJSON is one field of an export.
type fieldJSON struct {
	Name     string `json:"name"`
	ExportAs string `json:"export_as,omitempty"`
}

// jobJSON is a job as the API shows it.
type jobJSON struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Status       string `json:"status"`
	CreatedAt    string `json:"created_at"`
	ConnectionID string `json:"connection_id,omitempty"`
	Connection   string `json:"connection,omitempty"`
	ExternalID   string `json:"external_id,omitempty"`
	// Upsert is an import's option.
	Upsert *bool `json:"upsert,omitempty"`
	// Format, Limit and Fields are an export's options.
	Format string      `json:"format,omitempty"`
	Limit  int         `json:"limit,omitempty"`
	Fields []fieldJSON `json:"fields,omitempty"`
	// Location is where a completed export's file is downloaded: a signed
	// link, good for a few minutes, that needs no token.
	Location string `json:"location,omitempty"`
	// PercentageDone is a running import's progress.
	PercentageDone *int `json:"percentage_done,omitempty"`
	// StatusDetails says why a failed job failed.
	StatusDetails string       `json:"status_details,omitempty"`
	Summary       *summaryJSON `json:"summary,omitempty"`
}

func (a *API) toJobJSON(j store.Job) jobJSON {
	out := jobJSON{ID: j.ID, Type: j.Type, Status: j.Status, CreatedAt: timestamp(j.CreatedAt),
		ConnectionID: j.Connection, Connection: j.Connection, ExternalID: j.ExternalID, StatusDetails: j.Details}
	switch j.Type {
	case store.JobUsersImport:
		upsert := j.Upsert
		out.Upsert = &upsert
		s := j.Summary
		out.Summary = &summaryJSON{Total: s.Total, Inserted: s.Inserted, Updated: s.Updated, Failed: s.Failed}
		if j.Status == store.JobProcessing && s.Total > 0 {
			pct := (s.Inserted + s.Updated + s.Failed) * 100 / s.Total
			out.PercentageDone = &pct
		}
	case store.JobUsersExport:
		out.Format, out.Limit = j.Format, j.Limit
		for _, f := range j.Fields {
			out.Fields = append(out.Fields, fieldJSON(f))
		}
		if tok := a.jobs.ExportToken(j.ID); j.Status == store.JobCompleted && tok != "" {
			out.Location = strings.TrimSuffix(a.issuer, "/") + Prefix + strings.Replace(exportFilePath, "{id}", url.PathEscape(j.ID), 1) +
				"?" + url.Values{"token": {tok}}.Encode()
		}
	}
	return out
}

// transferTime is how long an upload or a download of a jobs route may
// take: a users file of hundreds of megabytes needs far longer than the
// server's timeouts allow other requests (the README's "Limits").
const transferTime = 30 * time.Minute

// allowTransfer moves the connection's deadlines for this request only.
func allowTransfer(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	now := time.Now()
	// A server without deadlines, or a writer that cannot set them, needs
	// none moved.
	_ = rc.SetReadDeadline(now.Add(transferTime))
	_ = rc.SetWriteDeadline(now.Add(transferTime + time.Minute))
}

// importFormFields are the form fields of an import besides the file.
var importFormFields = []string{"connection_id", "upsert", "external_id", "send_completion_email"}

// maxFormField bounds a form field's value.
const maxFormField = 1 << 10

// importUsers reads the multipart form as it streams: the users file goes
// straight to the spool directory, whichever place it has among the
// fields, and is never held in memory whole.
func (a *API) importUsers(w http.ResponseWriter, r *http.Request) error {
	jobs, err := a.jobsOrFail()
	if err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return &mgmt.Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "Content-Type must be multipart/form-data, with the users file in the field users"}
	}
	allowTransfer(w)
	// The body's limit leaves room for the fields around the file, whose
	// own limit the spool enforces.
	r.Body = http.MaxBytesReader(w, r.Body, jobs.MaxImportBytes()+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return badRequest("Payload validation error: %v", err)
	}
	var in mgmt.ImportRequest
	defer func() { in.Upload.Discard() }() // nil once the import takes it
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return formError(err)
		}
		name := part.FormName()
		if seen[name] {
			return badRequest("Payload validation error: the field %s is given twice", name)
		}
		seen[name] = true
		if name == "users" {
			if in.Upload, err = jobs.ReceiveUsers(part); err != nil {
				return formError(err)
			}
			continue
		}
		if !slices.Contains(importFormFields, name) {
			return badRequest("Payload validation error: 'Additional properties not allowed: %s'", name)
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil {
			return formError(err)
		}
		if len(b) > maxFormField {
			return badRequest("Payload validation error: the field %s is longer than %d bytes", name, maxFormField)
		}
		v := string(b)
		switch name {
		case "connection_id":
			in.Connection = v
		case "external_id":
			in.ExternalID = v
		case "upsert", "send_completion_email":
			flag, err := strconv.ParseBool(v)
			if err != nil {
				return badRequest("Payload validation error: 'Expected type boolean but found type string' on property %s", name)
			}
			if name == "upsert" {
				in.Upsert = flag
			} else {
				in.SendCompletionEmail = flag
			}
		}
	}
	if in.Upload == nil {
		return badRequest("Payload validation error: the users file is required (the form field users)")
	}
	job, err := jobs.StartImport(r.Context(), in)
	in.Upload = nil // taken, or discarded by StartImport
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.toJobJSON(job))
	return nil
}

// formError turns an error of reading the form into the API's error:
// a body over the limit is a 413, a broken form a 400.
func formError(err error) error {
	var tooBig *http.MaxBytesError
	var me *mgmt.Error
	var netErr net.Error
	switch {
	case errors.As(err, &tooBig):
		return &mgmt.Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
			Message: fmt.Sprintf("Payload too large: at most %d bytes", tooBig.Limit)}
	case errors.As(err, &me):
		return me
	case errors.As(err, &netErr):
		// The connection's own error names addresses: say only what
		// happened.
		return &mgmt.Error{Status: http.StatusRequestTimeout, Code: "request_timeout",
			Message: fmt.Sprintf("The upload did not finish within %s", transferTime)}
	}
	return badRequest("Payload validation error: the multipart form cannot be read: %v", err)
}

// exportBody is the body of POST /jobs/users-exports.
type exportBody struct {
	ConnectionID string      `json:"connection_id,omitempty"`
	Format       string      `json:"format,omitempty"`
	Limit        *int        `json:"limit,omitempty"`
	Fields       []fieldJSON `json:"fields,omitempty"`
}

func (a *API) exportUsers(w http.ResponseWriter, r *http.Request) error {
	jobs, err := a.jobsOrFail()
	if err != nil {
		return err
	}
	var in exportBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	req := mgmt.ExportRequest{Connection: in.ConnectionID, Format: in.Format}
	if in.Limit != nil {
		if *in.Limit < 1 {
			return badRequest("Payload validation error: 'limit' must be at least 1")
		}
		req.Limit = *in.Limit
	}
	for _, f := range in.Fields {
		req.Fields = append(req.Fields, store.JobField(f))
	}
	job, err := jobs.StartExport(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a.toJobJSON(job))
	return nil
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) error {
	jobs, err := a.jobsOrFail()
	if err != nil {
		return err
	}
	job, err := jobs.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.toJobJSON(job))
	return nil
}

// jobErrorJSON is a failed row of an import: the row as it was in the
// file, without its password hash, and why it failed.
type jobErrorJSON struct {
	User   any            `json:"user"`
	Errors []rowErrorJSON `json:"errors"`
}

type rowErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
}

// jobErrors streams the failed rows: an import may have many.
func (a *API) jobErrors(w http.ResponseWriter, r *http.Request) error {
	jobs, err := a.jobsOrFail()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	// Ask for the job first, so that an unknown job is a 404 before the
	// answer has begun.
	if _, err := jobs.GetJob(r.Context(), id); err != nil {
		return err
	}
	allowTransfer(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	sep := "["
	err = jobs.EachJobError(r.Context(), id, func(e store.JobError) error {
		item := jobErrorJSON{User: json.RawMessage(e.User)}
		for _, re := range e.Errors {
			item.Errors = append(item.Errors, rowErrorJSON(re))
		}
		b, err := json.Marshal(item)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		sep = ","
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		// The status is out: all that is left is to cut the answer short,
		// which the client sees as invalid JSON.
		a.log.Error("management API: job errors cut short", "job", id, "err", err)
		return nil
	}
	if sep == "[" {
		_, _ = io.WriteString(w, "[")
	}
	_, _ = io.WriteString(w, "]")
	return nil
}

// downloadExport serves an export's file to the holder of a live signed
// link.
func (a *API) downloadExport(w http.ResponseWriter, r *http.Request) error {
	jobs, err := a.jobsOrFail()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !jobs.CheckExportToken(id, r.URL.Query().Get("token")) {
		return &mgmt.Error{Status: http.StatusForbidden, Code: "invalid_link",
			Message: "The download link is invalid or has expired: get the job again for a fresh location"}
	}
	job, err := jobs.GetJob(r.Context(), id)
	if err != nil {
		return err
	}
	if job.Type != store.JobUsersExport || job.Status != store.JobCompleted {
		return &mgmt.Error{Status: http.StatusNotFound, Code: "inexistent_file", Message: fmt.Sprintf("job %s has no file", id)}
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": mgmt.ExportFileName(job)}))
	w.Header().Set("Content-Length", strconv.FormatInt(job.FileSize, 10))
	if r.Method == http.MethodHead {
		return nil
	}
	allowTransfer(w)
	if err := jobs.WriteExport(r.Context(), id, w); err != nil {
		// Headers are out: cut the download short (its length tells).
		a.log.Error("management API: export download cut short", "job", id, "err", err)
	}
	return nil
}
