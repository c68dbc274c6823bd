package mgmt_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/store/postgres"
	"gatehouse/internal/store/postgres/pgtest"
	"gatehouse/internal/store/sqlite"
)

// BenchmarkImport100k imports a file of 100,000 users, each with a
// password hash and metadata, into a new SQLite store: the import rate an
// operator can expect. Run it with
//
//	go test ./internal/mgmt -run '^$' -bench Import100k -benchtime 1x
//
// and read users/s.
func BenchmarkImport100k(b *testing.B) {
	benchmarkImport(b, func(b *testing.B) store.Store {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "db"))
		if err != nil {
			b.Fatal(err)
		}
		return st
	})
}

// BenchmarkImport100kPostgres is BenchmarkImport100k into a fresh schema
// of the test PostgreSQL (GATEHOUSE_TEST_POSTGRES).
func BenchmarkImport100kPostgres(b *testing.B) {
	benchmarkImport(b, func(b *testing.B) store.Store {
		st, err := postgres.Open(b.Context(), pgtest.FreshSchema(b), postgres.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return st
	})
}

func benchmarkImport(b *testing.B, open func(b *testing.B) store.Store) {
	const n = 100_000
	var file bytes.Buffer
	file.WriteString("[\n")
	for i := range n {
		if i > 0 {
			file.WriteString(",\n")
		}
		fmt.Fprintf(&file, `{"email":"user%06d@example.com","email_verified":true,"user_id":"u%06d","name":"User %d",`+
			`"given_name":"Given","family_name":"Family","password_hash":"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K",`+
			`"app_metadata":{"plan":"pro","roles":["reader"]},"user_metadata":{"lang":"en"}}`, i, i, i)
	}
	file.WriteString("\n]\n")
	b.SetBytes(int64(file.Len()))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st := open(b)
		jobs, err := mgmt.NewJobs(mgmt.JobsConfig{Store: st, SpoolDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		job, err := jobs.RunImport(b.Context(), mgmt.ImportRequest{Connection: store.DefaultDatabaseConnection, Users: bytes.NewReader(file.Bytes())})
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil || job.Status != store.JobCompleted || job.Summary.Inserted != n {
			b.Fatalf("import: %+v %v", job, err)
		}
		b.ReportMetric(n/elapsed.Seconds(), "users/s")
		st.Close()
		b.StartTimer()
	}
}
