// Package pgtest gives tests a PostgreSQL schema of their own: the test
// database named by GATEHOUSE_TEST_POSTGRES, skipped when absent except
// under CI=true.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that points the tests at a PostgreSQL database
// in which they may create and drop schemas, e.g.
// postgres://gatehouse:gatehouse@127.0.0.1:5432/gatehouse_test?sslmode=disable
// (.ci/postgres.sh starts one and prints it).
const EnvDSN = "GATEHOUSE_TEST_POSTGRES"

// DSN returns the DSN of the test database. Without one the tests skip,
// except under CI=true, where a missing database is a failure.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	const msg = EnvDSN + " is not set: no PostgreSQL to test against (eval \"$(bash .ci/postgres.sh)\" starts one)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// FreshSchema creates an empty schema for one test, drops it when the test
// ends, and returns the DSN whose search_path is that schema.
func FreshSchema(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	name := "t_" + strings.ToLower(rand.Text()[:16])

	admin, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvDSN, err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(context.Background(), `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// The test's context is gone by now.
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withSearchPath(t, base, name)
}

// withSearchPath returns dsn with search_path set to schema, a run-time
// parameter that pgx sends when it connects.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvDSN)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
