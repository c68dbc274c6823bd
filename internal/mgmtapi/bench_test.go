package mgmtapi_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// BenchmarkAPI measures management API requests end to end (HTTP, token
// check, service, SQLite) with 10,000 users in the store:
//
//	go test ./internal/mgmtapi -run '^$' -bench API -benchtime 2000x
func BenchmarkAPI(b *testing.B) {
	e := newEnv(b)
	e.unchecked = true
	ctx := b.Context()
	now := time.Now().UTC()
	const n = 10_000
	for i := range n {
		u := store.User{ID: fmt.Sprintf("gatehouse|u%05d", i), Connection: store.DefaultDatabaseConnection,
			Email: fmt.Sprintf("user%05d@example.com", i), Name: fmt.Sprintf("User %d", i), CreatedAt: now, UpdatedAt: now,
			Identities: []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: "gatehouse", UserID: fmt.Sprintf("u%05d", i)}}}
		if err := e.st.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	id := url.PathEscape("gatehouse|u04242")
	for _, bm := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"GetUser", "GET", "/api/v2/users/" + id, nil, 200},
		{"SearchByEmail", "GET", "/api/v2/users?q=" + url.QueryEscape(`email:"user04242@example.com"`), nil, 200},
		{"ListPage100", "GET", "/api/v2/users?page=50&per_page=100&include_totals=true", nil, 200},
		{"PatchUser", "PATCH", "/api/v2/users/" + id, map[string]any{"user_metadata": map[string]any{"k": 1}}, 200},
	} {
		b.Run(bm.name, func(b *testing.B) {
			tok := e.token(b, all...)
			for b.Loop() {
				if status, body := e.do(b, bm.method, bm.path, bm.body, tok); status != bm.status {
					b.Fatalf("%d %s", status, body)
				}
			}
		})
	}
}
