package mgmt

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/store"
)

// Bulk user jobs.
//
// An import or an export is a job that runs in the background of the
// process that accepted it; its record in the store says how far it got,
// so that any replica can answer for it. The process holds a lease on the
// job and renews it while it works. If the process stops, the lease runs
// out and the job is failed the next time anyone asks after it (GetJob) or
// when a process starts (Recover): a job never stays "processing" for a
// process that is gone. An import is not resumed: its rows are written in
// batches, each row whole or not at all, so running the same file again
// with upsert finishes it.

// Job tuning.
const (
	// jobLease is how long a job's process answers for it without
	// renewing; leaseRenew is how often it renews while it works.
	jobLease   = time.Minute
	leaseRenew = 10 * time.Second
	// jobTTL is how long a job, its errors and its file are kept.
	jobTTL = 24 * time.Hour
	// importBatch is how many rows one transaction writes.
	importBatch = 1000
	// DefaultMaxImportBytes bounds a users file.
	DefaultMaxImportBytes int64 = 500 << 20
	// exportLinkTTL is how long a download link of an export lives.
	exportLinkTTL = 15 * time.Minute
)

// Details of jobs that did not finish.
const (
	detailsStopped = "the server stopped before the job finished"
	detailsFailed  = "the job failed on a database error"
)

// JobsConfig wires a Jobs.
type JobsConfig struct {
	Store store.Store
	// Provider is the user ID prefix of database users (the server's
	// user_id_provider); "gatehouse" when empty. An imported user_id
	// "abc" becomes "<Provider>|abc".
	Provider string
	// SpoolDir holds uploaded users files while their import runs;
	// os.TempDir() when empty.
	SpoolDir string
	// MaxImportBytes bounds a users file; DefaultMaxImportBytes when 0.
	MaxImportBytes int64
	// LinkKey signs the download links of export files. Without it
	// exports run, but have no link.
	LinkKey []byte
	Log     *slog.Logger
	Now     func() time.Time
}

// Jobs runs bulk user imports and exports in the background.
type Jobs struct {
	st       store.Store
	provider string
	spool    string
	maxBytes int64
	linkKey  []byte
	log      *slog.Logger
	now      func() time.Time

	// ctx is cancelled by Close; every job runs under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // counts running jobs
}

// NewJobs returns a Jobs; the store is required.
func NewJobs(cfg JobsConfig) (*Jobs, error) {
	if cfg.Store == nil {
		return nil, errors.New("mgmt jobs: a store is required")
	}
	if cfg.Provider == "" {
		cfg.Provider = "gatehouse"
	}
	if strings.Contains(cfg.Provider, "|") {
		return nil, fmt.Errorf("mgmt jobs: provider %q contains '|'", cfg.Provider)
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = DefaultMaxImportBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Jobs{st: cfg.Store, provider: cfg.Provider, spool: cfg.SpoolDir, maxBytes: cfg.MaxImportBytes,
		linkKey: cfg.LinkKey, log: cfg.Log, now: func() time.Time { return cfg.Now().UTC() },
		ctx: ctx, cancel: cancel}, nil
}

// MaxImportBytes is the largest users file an import takes.
func (j *Jobs) MaxImportBytes() int64 { return j.maxBytes }

// Close stops the running jobs, marking each failed, and waits for them
// until ctx ends.
func (j *Jobs) Close(ctx context.Context) error {
	j.cancel()
	done := make(chan struct{})
	go func() { j.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close jobs: %w", ctx.Err())
	}
}

// Recover fails the jobs whose process stopped (their lease ran out) and
// removes the users files they left in the spool directory. A server calls
// it when it starts; GetJob does the first part by itself.
func (j *Jobs) Recover(ctx context.Context) (int64, error) {
	n, err := j.st.FailStaleJobs(ctx, j.now(), detailsStopped)
	if err != nil {
		return 0, fmt.Errorf("recover jobs: %w", err)
	}
	files, _ := filepath.Glob(filepath.Join(j.spool, spoolPrefix+"*"+spoolSuffix))
	for _, f := range files {
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), spoolPrefix), spoolSuffix)
		job, err := j.st.GetJob(ctx, id)
		switch {
		case err == nil && ended(job):
			_ = os.Remove(f)
		case errors.Is(err, store.ErrNotFound) && orphaned(f):
			_ = os.Remove(f)
		}
	}
	return n, nil
}

// orphanAge is how long a users file without a job must have been left
// alone before Recover removes it. The file is written before its job's
// row, and another process on the same host (a second replica, or a
// server of another database) may be receiving it right now; uploads
// move their deadline to 30 minutes, so an hour without a write means no
// one is writing it.
const orphanAge = time.Hour

// orphaned reports whether the spooled file f has not been written for
// orphanAge. The file's time is the file system's wall clock, so it is
// compared with the wall clock, not the service's clock.
func orphaned(f string) bool {
	fi, err := os.Stat(f)
	return err == nil && time.Since(fi.ModTime()) > orphanAge
}

// GetJob returns the job with the ID. A running job whose lease has run
// out is failed first: its process stopped.
func (j *Jobs) GetJob(ctx context.Context, id string) (store.Job, error) {
	job, err := j.st.GetJob(ctx, id)
	if err != nil {
		return store.Job{}, jobNotFound(err, id)
	}
	if !ended(job) && job.LeaseUntil.Before(j.now()) {
		if _, err := j.st.FailStaleJobs(ctx, j.now(), detailsStopped); err != nil {
			return store.Job{}, fmt.Errorf("get job: %w", err)
		}
		if job, err = j.st.GetJob(ctx, id); err != nil {
			return store.Job{}, jobNotFound(err, id)
		}
	}
	return job, nil
}

// EachJobError calls fn with each failed row of the job, in the order of
// the file, and stops at fn's first error.
func (j *Jobs) EachJobError(ctx context.Context, id string, fn func(store.JobError) error) error {
	if _, err := j.GetJob(ctx, id); err != nil {
		return err
	}
	const page = 1000
	for from := 0; ; {
		errs, err := j.st.ListJobErrors(ctx, id, from, page)
		if err != nil {
			return fmt.Errorf("list job errors: %w", err)
		}
		for _, e := range errs {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(errs) < page {
			return nil
		}
		from = errs[len(errs)-1].Row + 1
	}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func jobNotFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: "inexistent_job", Message: fmt.Sprintf("job %q not found", id), err: err}
	}
	return fmt.Errorf("get job: %w", err)
}

func ended(job store.Job) bool {
	return job.Status == store.JobCompleted || job.Status == store.JobFailed
}

// runner carries a job through its run: it renews the lease as it saves
// progress and records the end.
type runner struct {
	j       *Jobs
	job     store.Job
	renewed time.Time
}

// start marks the job processing.
func (r *runner) start(ctx context.Context) error {
	r.job.Status = store.JobProcessing
	return r.save(ctx)
}

// progress saves the summary now and then, renewing the lease.
func (r *runner) progress(ctx context.Context) error {
	if r.j.now().Sub(r.renewed) < leaseRenew {
		return nil
	}
	return r.save(ctx)
}

func (r *runner) save(ctx context.Context) error {
	now := r.j.now()
	r.job.UpdatedAt, r.job.LeaseUntil = now, now.Add(jobLease)
	if err := r.j.st.UpdateJob(ctx, r.job); err != nil {
		return fmt.Errorf("save job %s: %w", r.job.ID, err)
	}
	r.renewed = now
	return nil
}

// finish records how the run ended: completed, or failed with details.
// It saves even when ctx (the server's) is done, so that a stopped server
// leaves failed jobs rather than jobs whose lease must first run out.
func (r *runner) finish(ctx context.Context, runErr error) {
	r.job.Status = store.JobCompleted
	if runErr != nil {
		r.job.Status, r.job.Details = store.JobFailed, detailsFailed
		if ctx.Err() != nil {
			r.job.Details = detailsStopped
		}
		if !errors.Is(runErr, store.ErrAlreadyUsed) {
			r.j.log.Error("job failed", "job", r.job.ID, "type", r.job.Type, "err", runErr)
		}
	}
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.save(saveCtx); err != nil && !errors.Is(err, store.ErrAlreadyUsed) {
		r.j.log.Error("record job end", "job", r.job.ID, "err", err)
	}
}

// newJob returns a pending job of the type created now.
func (j *Jobs) newJob(typ, connection string) store.Job {
	now := j.now()
	return store.Job{ID: randomID("job_"), Type: typ, Status: store.JobPending, Connection: connection,
		CreatedAt: now, UpdatedAt: now, LeaseUntil: now.Add(jobLease), ExpiresAt: now.Add(jobTTL)}
}

// launch runs fn for the job in the background.
func (j *Jobs) launch(job store.Job, fn func(ctx context.Context, r *runner) error) {
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		j.run(j.ctx, job, fn)
	}()
}

// run carries the job through fn.
func (j *Jobs) run(ctx context.Context, job store.Job, fn func(ctx context.Context, r *runner) error) store.Job {
	r := &runner{j: j, job: job}
	err := r.start(ctx)
	if err == nil {
		err = fn(ctx, r)
	}
	r.finish(ctx, err)
	return r.job
}

// Export download links.
//
// A link carries its expiry and an HMAC of the job ID and the expiry under
// LinkKey, so that a plain GET, as Auth0's SDKs and tools make for an
// export's location, fetches the file without the management token, for a
// short while.

// ExportToken returns the token of a download link for the job's file,
// good for exportLinkTTL; "" without a LinkKey.
func (j *Jobs) ExportToken(jobID string) string {
	if len(j.linkKey) == 0 {
		return ""
	}
	exp := j.now().Add(exportLinkTTL).Unix()
	b := binary.BigEndian.AppendUint64(nil, uint64(exp))
	return base64.RawURLEncoding.EncodeToString(append(b, j.linkMAC(jobID, exp)...))
}

func (j *Jobs) linkMAC(jobID string, exp int64) []byte {
	m := hmac.New(sha256.New, j.linkKey)
	fmt.Fprintf(m, "export %s %d", jobID, exp)
	return m.Sum(nil)
}

// CheckExportToken reports whether tok is a live download link token for
// the job.
func (j *Jobs) CheckExportToken(jobID, tok string) bool {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if len(j.linkKey) == 0 || err != nil || len(b) != 8+sha256.Size {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(b[:8]))
	return hmac.Equal(b[8:], j.linkMAC(jobID, exp)) && j.now().Unix() < exp
}
