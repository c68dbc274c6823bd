package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// RunConcurrency runs the races every backend must settle atomically: many
// goroutines presenting one single-use value, or writing one unique key, at
// once. newStore has the same contract as in Run.
func RunConcurrency(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"RedeemCode", raceRedeemCode},
		{"RotateRefreshToken", raceRotateRefreshToken},
		{"RotateRefreshTokenOverlap", raceRotateRefreshTokenOverlap},
		{"RefreshRounds", raceRefresh},
		{"UserRevocations", raceUserRevocations},
		{"CreateUser", raceCreateUser},
		{"UpsertGrant", raceUpsertGrant},
		{"ConsumeAuthRequestForCode", raceConsumeAuthRequest},
		{"ConsumeUpstreamState", raceConsumeUpstreamState},
		{"SetConnectionEnabled", raceSetConnectionEnabled},
		{"AcceptInvitation", raceAcceptInvitation},
		{"AddMember", raceAddMember},
		{"LinkUsers", raceLinkUsers},
		{"Factors", raceFactors},
		{"TakeAttempt", raceTakeAttempt},
		{"Tickets", raceTickets},
		{"Ceremonies", raceCeremonies},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// race runs f(0) … f(n-1) in n goroutines released at the same moment and
// returns their errors by index.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts the errors of a race: nil under "ok", sentinel errors under
// their own text, anything else under "other".
func tally(errs []error, sentinels ...error) map[string]int {
	m := make(map[string]int)
	for _, err := range errs {
		switch {
		case err == nil:
			m["ok"]++
		default:
			key := "other"
			for _, s := range sentinels {
				if errors.Is(err, s) {
					key = s.Error()
					break
				}
			}
			m[key]++
		}
	}
	return m
}

// firstOther returns the first error that is none of the sentinels, for the
// failure message.
func firstOther(errs []error, sentinels ...error) error {
	for _, err := range errs {
		if err == nil {
			continue
		}
		known := false
		for _, s := range sentinels {
			known = known || errors.Is(err, s)
		}
		if !known {
			return err
		}
	}
	return nil
}

func raceRedeemCode(t *testing.T, s store.Store) {
	const n = 50
	code := newCode("code-1", "grant-1", "gatehouse|ada")
	issueCode(t, s, code)
	at := newAccessToken("at-1", code.GrantID, code.UserID)
	must(t, s.CreateAccessToken(t.Context(), at), "create access token")

	got := make([]store.AuthCode, n)
	errs := race(n, func(i int) error {
		var err error
		got[i], err = s.RedeemCode(t.Context(), code.ID, t0.Add(time.Second), store.Issued{})
		return err
	})
	c := tally(errs, store.ErrAlreadyUsed)
	if c["ok"] != 1 || c[store.ErrAlreadyUsed.Error()] != n-1 {
		t.Fatalf("%d concurrent redeems: %v (first unexpected error: %v); want 1 ok, %d already used",
			n, c, firstOther(errs, store.ErrAlreadyUsed), n-1)
	}
	for i, err := range errs {
		if got[i].GrantID != code.GrantID {
			t.Errorf("redeem %d (error %v): GrantID = %q, want %q", i, err, got[i].GrantID, code.GrantID)
		}
	}
	_, err := s.GetAccessToken(t.Context(), at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a reused code")
}

func raceRotateRefreshToken(t *testing.T, s store.Store) {
	const n = 20
	old := newRefreshToken("rt-old", "grant-1", "gatehouse|ada")
	at := newAccessToken("at-1", old.FamilyID, old.UserID)
	must(t, s.CreateRefreshToken(t.Context(), old), "create refresh token")
	must(t, s.CreateAccessToken(t.Context(), at), "create access token")

	next := func(i int) store.RefreshToken {
		return newRefreshToken(fmt.Sprintf("rt-next-%02d", i), old.FamilyID, old.UserID)
	}
	errs := race(n, func(i int) error {
		_, err := s.RotateRefreshToken(t.Context(), old.ID, next(i), t0.Add(time.Second), 0, nil)
		return err
	})
	allowed := []error{store.ErrReused, store.ErrRevoked, store.ErrNotFound}
	c := tally(errs, allowed...)
	if c["ok"] != 1 || c["other"] != 0 {
		t.Fatalf("%d concurrent rotations: %v (first unexpected error: %v); want 1 ok, the rest reused, revoked or not found",
			n, c, firstOther(errs, allowed...))
	}

	winner := -1
	for i, err := range errs {
		_, getErr := s.GetRefreshToken(t.Context(), next(i).ID)
		switch {
		case err == nil:
			winner = i
			must(t, getErr, "get next token of the winning rotation")
		default:
			wantErr(t, getErr, store.ErrNotFound, "get next token of a refused rotation")
		}
	}
	if c[store.ErrReused.Error()] == 0 {
		// Every loser saw the family already revoked or the token gone,
		// which needs a reuse first; a backend may still report it so.
		t.Logf("no rotation reported reuse: %v", c)
		return
	}
	wantRefreshRevoked(t, s, old.ID, true)
	wantRefreshRevoked(t, s, next(winner).ID, true)
	_, err := s.GetAccessToken(t.Context(), at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a revoked family")
}

// raceRotateRefreshTokenOverlap presents one token many times at once with
// an overlap: the rotation and the one overlap use succeed, the third use is
// reuse and revokes the family, and the rest find it revoked.
func raceRotateRefreshTokenOverlap(t *testing.T, s store.Store) {
	const n = 20
	old := newRefreshToken("rt-old", "grant-1", "gatehouse|ada")
	at := newAccessToken("at-1", old.FamilyID, old.UserID)
	must(t, s.CreateRefreshToken(t.Context(), old), "create refresh token")
	must(t, s.CreateAccessToken(t.Context(), at), "create access token")

	now := t0.Add(time.Second)
	next := func(i int) store.RefreshToken {
		return newRefreshToken(fmt.Sprintf("rt-next-%02d", i), old.FamilyID, old.UserID)
	}
	errs := race(n, func(i int) error {
		_, err := s.RotateRefreshToken(t.Context(), old.ID, next(i), now, time.Minute, nil)
		return err
	})
	allowed := []error{store.ErrReused, store.ErrRevoked}
	c := tally(errs, allowed...)
	if c["ok"] != 2 || c[store.ErrReused.Error()] == 0 || c["other"] != 0 {
		t.Fatalf("%d concurrent rotations with an overlap: %v (first unexpected error: %v); want 2 ok, at least 1 reused, the rest reused or revoked",
			n, c, firstOther(errs, allowed...))
	}

	for i, err := range errs {
		_, getErr := s.GetRefreshToken(t.Context(), next(i).ID)
		switch {
		case err == nil:
			must(t, getErr, "get next token of a winning rotation")
			wantRefreshRevoked(t, s, next(i).ID, true)
		default:
			wantErr(t, getErr, store.ErrNotFound, "get next token of a refused rotation")
		}
	}
	got, err := s.GetRefreshToken(t.Context(), old.ID)
	must(t, err, "get raced refresh token")
	if got.UsedAt == nil || !got.UsedAt.Equal(now) || !got.OverlapUsed || !got.Revoked {
		t.Fatalf("raced refresh token: UsedAt %v, OverlapUsed %v, Revoked %v; want %v, true, true",
			got.UsedAt, got.OverlapUsed, got.Revoked, now)
	}
	wantRefreshRevoked(t, s, old.ID, true)
	_, err = s.GetAccessToken(t.Context(), at.ID, t0)
	wantErr(t, err, store.ErrNotFound, "get access token of a revoked family")
}

func raceCreateUser(t *testing.T, s store.Store) {
	const n = 20
	errs := race(n, func(i int) error {
		return s.CreateUser(t.Context(), newUser(fmt.Sprintf("gatehouse|u%02d", i), "same@example.com"))
	})
	c := tally(errs, store.ErrConflict)
	if c["ok"] != 1 || c[store.ErrConflict.Error()] != n-1 {
		t.Fatalf("%d concurrent creates with one email: %v (first unexpected error: %v); want 1 ok, %d conflicts",
			n, c, firstOther(errs, store.ErrConflict), n-1)
	}
	users, err := s.ListUsers(t.Context())
	must(t, err, "list users")
	if len(users) != 1 {
		t.Fatalf("users after race: %d, want 1", len(users))
	}
	got, err := s.GetUserByEmail(t.Context(), store.DefaultDatabaseConnection, "same@example.com")
	must(t, err, "get user by email")
	if got.ID != users[0].ID {
		t.Fatalf("user by email = %q, want the listed %q", got.ID, users[0].ID)
	}
}

func raceUpsertGrant(t *testing.T, s store.Store) {
	const n = 20
	want := []string{"openid"}
	for i := range n {
		want = append(want, fmt.Sprintf("scope:%02d", i))
	}
	errs := race(n, func(i int) error {
		return s.UpsertGrant(t.Context(), newGrant("gatehouse|ada", "client-1", "https://api.example", "openid", fmt.Sprintf("scope:%02d", i)))
	})
	if c := tally(errs); c["ok"] != n {
		t.Fatalf("%d concurrent upserts: %v (first error: %v); want all ok", n, c, firstOther(errs))
	}
	got, err := s.GetGrant(t.Context(), "gatehouse|ada", "client-1", "https://api.example")
	must(t, err, "get grant")
	wantSameScopes(t, got.Scopes, want, "grant after concurrent upserts")
}

func raceConsumeAuthRequest(t *testing.T, s store.Store) {
	const n = 20
	req := newAuthRequest("req-1", wallNow().Add(10*time.Minute))
	must(t, s.CreateAuthRequest(t.Context(), req), "create request")
	code := func(i int) store.AuthCode {
		return newCode(fmt.Sprintf("code-%02d", i), fmt.Sprintf("grant-%02d", i), "gatehouse|ada")
	}
	errs := race(n, func(i int) error {
		return s.ConsumeAuthRequestForCode(t.Context(), req.ID, code(i))
	})
	c := tally(errs, store.ErrNotFound)
	if c["ok"] != 1 || c[store.ErrNotFound.Error()] != n-1 {
		t.Fatalf("%d concurrent consumes: %v (first unexpected error: %v); want 1 ok, %d not found",
			n, c, firstOther(errs, store.ErrNotFound), n-1)
	}
	for i, err := range errs {
		_, redeemErr := s.RedeemCode(t.Context(), code(i).ID, t0, store.Issued{})
		if err == nil {
			must(t, redeemErr, "redeem the one issued code")
		} else {
			wantErr(t, redeemErr, store.ErrNotFound, "redeem a code of a refused consume")
		}
	}
}

func raceConsumeUpstreamState(t *testing.T, s store.Store) {
	const n = 20
	req := newAuthRequest("req-1", wallNow().Add(10*time.Minute))
	must(t, s.CreateAuthRequest(t.Context(), req), "create request")
	got := make([]store.AuthRequest, n)
	errs := race(n, func(i int) error {
		var err error
		got[i], err = s.ConsumeUpstreamState(t.Context(), req.ID, req.UpstreamStateHash)
		return err
	})
	c := tally(errs, store.ErrNotFound)
	if c["ok"] != 1 || c[store.ErrNotFound.Error()] != n-1 {
		t.Fatalf("%d concurrent upstream callbacks with one state: %v (first unexpected error: %v); want 1 ok, %d not found",
			n, c, firstOther(errs, store.ErrNotFound), n-1)
	}
	for i, err := range errs {
		if err == nil {
			wantEqual(t, got[i], req, "request returned to the winning callback")
		}
	}
	stored, err := s.GetAuthRequest(t.Context(), req.ID)
	must(t, err, "get request")
	if stored.UpstreamStateHash != "" {
		t.Fatalf("UpstreamStateHash after the race = %q, want it cleared", stored.UpstreamStateHash)
	}
}

// raceSetConnectionEnabled enables a connection for 20 clients and disables
// it for 10 others at once: no change may be lost to another.
func raceSetConnectionEnabled(t *testing.T, s store.Store) {
	const n, m = 20, 10
	conn := newConnection("corp-oidc")
	conn.EnabledClients = nil
	for i := range m {
		conn.EnabledClients = append(conn.EnabledClients, fmt.Sprintf("old-%02d", i))
	}
	must(t, s.CreateConnection(t.Context(), conn), "create connection")
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("client-%02d", i))
	}
	errs := race(n+m, func(i int) error {
		if i < n {
			return s.SetConnectionEnabled(t.Context(), conn.Name, want[i], true)
		}
		return s.SetConnectionEnabled(t.Context(), conn.Name, conn.EnabledClients[i-n], false)
	})
	if c := tally(errs); c["ok"] != n+m {
		t.Fatalf("%d concurrent SetConnectionEnabled: %v (first error: %v); want all ok", n+m, c, firstOther(errs))
	}
	got, err := s.GetConnection(t.Context(), conn.Name)
	must(t, err, "get connection")
	wantEqual(t, got.EnabledClients, want, "clients after the race")
}

// raceAcceptInvitation has one invitation accepted by 20 users at once:
// one of them joins, the rest find it used.
func raceAcceptInvitation(t *testing.T, s store.Store) {
	const n = 20
	org := newOrganization("org_1", "acme")
	must(t, s.CreateOrganization(t.Context(), org), "create organization")
	users := make([]string, n)
	for i := range n {
		users[i] = fmt.Sprintf("gatehouse|u%02d", i)
		must(t, s.CreateUser(t.Context(), newUser(users[i], fmt.Sprintf("u%02d@example.com", i))), "create user")
	}
	inv := newInvitation("inv_1", org.ID, "team@example.com")
	must(t, s.CreateInvitation(t.Context(), inv), "create invitation")

	now := t0.Add(time.Second)
	errs := race(n, func(i int) error {
		_, err := s.AcceptInvitation(t.Context(), inv.TicketHash, org.ID, inv.Email, users[i], now)
		return err
	})
	c := tally(errs, store.ErrAlreadyUsed)
	if c["ok"] != 1 || c[store.ErrAlreadyUsed.Error()] != n-1 {
		t.Fatalf("%d concurrent accepts of one invitation: %v (first unexpected error: %v); want 1 ok, %d already used",
			n, c, firstOther(errs, store.ErrAlreadyUsed), n-1)
	}
	winner := users[slices.IndexFunc(errs, func(err error) bool { return err == nil })]
	got, err := s.GetInvitation(t.Context(), inv.ID)
	must(t, err, "get invitation")
	want := inv
	want.UsedAt, want.UsedBy = &now, winner
	wantEqual(t, got, want, "invitation after the race")
	members, err := s.ListMembers(t.Context(), org.ID)
	must(t, err, "list members")
	wantEqual(t, members, []string{winner}, "members after the race")
}

// raceAddMember adds 20 users to one organization at once: none may be
// lost.
func raceAddMember(t *testing.T, s store.Store) {
	const n = 20
	org := newOrganization("org_1", "acme")
	must(t, s.CreateOrganization(t.Context(), org), "create organization")
	var want []string
	for i := range n {
		id := fmt.Sprintf("gatehouse|u%02d", i)
		want = append(want, id)
		must(t, s.CreateUser(t.Context(), newUser(id, fmt.Sprintf("u%02d@example.com", i))), "create user")
	}
	errs := race(n, func(i int) error {
		return s.AddMember(t.Context(), org.ID, want[i])
	})
	if c := tally(errs); c["ok"] != n {
		t.Fatalf("%d concurrent AddMember: %v (first error: %v); want all ok", n, c, firstOther(errs))
	}
	members, err := s.ListMembers(t.Context(), org.ID)
	must(t, err, "list members")
	wantEqual(t, members, want, "members after the race")
}

// raceLinkUsers links 10 pairs of users both ways at once (A←B beside B←A):
// in each pair one link wins and its primary holds every identity and
// membership of both, while the other finds its user gone (ErrNotFound,
// never a deadlock).
func raceLinkUsers(t *testing.T, s store.Store) {
	const pairs = 10
	acme, globex := newOrganization("org_1", "acme"), newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(t.Context(), acme), "create acme")
	must(t, s.CreateOrganization(t.Context(), globex), "create globex")
	type pair struct{ a, b store.User }
	ps := make([]pair, pairs)
	for i := range ps {
		a := newUser(fmt.Sprintf("gatehouse|a%02d", i), fmt.Sprintf("a%02d@example.com", i))
		a.Identities = append(a.Identities, store.Identity{Connection: "google-oauth2", Provider: "google-oauth2", UserID: fmt.Sprintf("g%02d", i)})
		b := githubUser(fmt.Sprintf("b%02d", i), fmt.Sprintf("b%02d@example.com", i))
		b.Identities = append(b.Identities, store.Identity{Connection: "corp-oidc", Provider: "oidc", UserID: fmt.Sprintf("c%02d", i)})
		must(t, s.CreateUser(t.Context(), a), "create user")
		must(t, s.CreateUser(t.Context(), b), "create user")
		must(t, s.AddMember(t.Context(), acme.ID, a.ID), "add member")
		must(t, s.AddMember(t.Context(), globex.ID, b.ID), "add member")
		ps[i] = pair{a, b}
	}

	// Call 2p links b into a, call 2p+1 a into b.
	link := func(i int) (primary, secondary store.User) {
		p := ps[i/2]
		if i%2 == 0 {
			return p.a, p.b
		}
		return p.b, p.a
	}
	got := make([]store.User, 2*pairs)
	errs := race(2*pairs, func(i int) error {
		primary, secondary := link(i)
		var err error
		got[i], err = s.LinkUsers(t.Context(), primary.ID, secondary.ID)
		return err
	})
	c := tally(errs, store.ErrNotFound)
	if c["ok"] != pairs || c[store.ErrNotFound.Error()] != pairs {
		t.Fatalf("%d pairs linked both ways at once: %v (first unexpected error: %v); want %d ok, %d not found",
			pairs, c, firstOther(errs, store.ErrNotFound), pairs, pairs)
	}

	var winners []store.User
	for p := range pairs {
		i := 2 * p
		if errs[i] != nil {
			i++
		}
		if errs[i] != nil || errs[i^1] == nil {
			t.Fatalf("pair %d: errors %v and %v, want one link to win", p, errs[2*p], errs[2*p+1])
		}
		primary, secondary := link(i)
		wantLinked(t, s, got[i], primary, secondary, fmt.Sprintf("pair %d", p))
		wantUserOrganizations(t, s, primary.ID, []store.Organization{acme, globex}, fmt.Sprintf("pair %d winner", p))
		winners = append(winners, got[i])
	}
	users, err := s.ListUsers(t.Context())
	must(t, err, "list users")
	slices.SortFunc(winners, func(a, b store.User) int { return strings.Compare(a.ID, b.ID) })
	wantEqual(t, users, winners, "users after the race")
}
