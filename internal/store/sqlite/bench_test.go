package sqlite

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// benchRows lists the table sizes of the data-size benchmarks. Add 1000000
// for the million rows; filling them takes about a minute each.
var benchRows = flag.String("bench-rows", "10,10000", "comma-separated row counts for the data-size benchmarks")

func rowCounts(b *testing.B) []int {
	var ns []int
	for _, s := range strings.Split(*benchRows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("-bench-rows: %q is not a positive count", s)
		}
		ns = append(ns, n)
	}
	return ns
}

// fill inserts n rows with insert(t, i) in transactions of 10,000 rows, the
// way the store's own methods write them but without a commit per row.
func fill(b *testing.B, db *DB, n int, insert func(ctx context.Context, t tx, i int) error) {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 10000 {
		err := db.inTx(ctx, func(t tx) error {
			for i := start; i < min(start+10000, n); i++ {
				if err := insert(ctx, t, i); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}

func benchUser(i int) store.User {
	now := time.Now().UTC()
	id := fmt.Sprintf("%024x", i)
	return store.User{
		ID: "gatehouse|" + id, Connection: store.DefaultDatabaseConnection,
		Email: fmt.Sprintf("user%d@example.com", i), PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Name: "User", Nickname: "user", CreatedAt: now, UpdatedAt: now,
		Identities: []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: "gatehouse", UserID: id}},
	}
}

// BenchmarkGetUserByEmail is the lookup of every password login, over
// tables of -bench-rows users: an index lookup costs the same at any size.
func BenchmarkGetUserByEmail(b *testing.B) {
	for _, n := range rowCounts(b) {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			db := newStore(b)
			fill(b, db, n, func(ctx context.Context, t tx, i int) error {
				u := benchUser(i)
				fields, err := userFields(u)
				if err != nil {
					return err
				}
				if _, err := t.exec(ctx, qInsertUser, append([]any{u.ID, millis(u.CreatedAt)}, fields...)...); err != nil {
					return err
				}
				return insertIdentities(ctx, t, u.ID, u.Identities)
			})
			ctx := b.Context()
			i := 0
			for b.Loop() {
				i = (i + 7919) % n
				u, err := db.GetUserByEmail(ctx, store.DefaultDatabaseConnection, fmt.Sprintf("user%d@example.com", i))
				if err != nil || len(u.Identities) != 1 {
					b.Fatalf("user %d: %v", i, err)
				}
			}
		})
	}
}

// BenchmarkRotateRefreshTokenRows rotates one chain in tables of
// -bench-rows stored refresh tokens: rotated tokens stay until they expire,
// so the table holds every refresh of the last refresh-token lifetime.
func BenchmarkRotateRefreshTokenRows(b *testing.B) {
	for _, n := range rowCounts(b) {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			db := newStore(b)
			now := time.Now()
			tok := func(family string, i int) store.RefreshToken {
				return store.RefreshToken{ID: fmt.Sprintf("%s-%043d", family, i), FamilyID: family, ClientID: "client-1",
					UserID: "gatehouse|ada", Scopes: []string{"openid", "offline_access"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			}
			fill(b, db, n, func(ctx context.Context, t tx, i int) error {
				_, err := t.exec(ctx, qInsertRefreshToken, refreshTokenArgs(tok(fmt.Sprintf("filler%d", i%1000), i))...)
				return err
			})
			ctx := b.Context()
			if err := db.CreateRefreshToken(ctx, tok("chain", 0)); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				if _, err := db.RotateRefreshToken(ctx, tok("chain", i).ID, tok("chain", i+1), now, 0, nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkCreateAccessToken is the cheapest write of the token endpoint:
// one INSERT committed on its own, which every code exchange and refresh
// pays at least twice.
func BenchmarkCreateAccessToken(b *testing.B) {
	db := newStore(b)
	ctx := b.Context()
	now := time.Now()
	i := 0
	for b.Loop() {
		i++
		at := store.AccessToken{ID: fmt.Sprintf("at-%040d", i), GrantID: "grant-1", ClientID: "client-1", UserID: "gatehouse|ada",
			Scopes: []string{"openid", "profile"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateAccessToken(ctx, at); err != nil {
			b.Fatal(err)
		}
	}
}
