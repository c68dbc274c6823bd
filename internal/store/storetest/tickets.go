package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// The suite pins, for tickets and the account changes beside them:
//   - GetTicket and ConsumeTicket return ErrNotFound for an unknown ticket,
//     one of another kind, and one whose ExpiresAt is at or before now,
//     used or not; ErrAlreadyUsed for a consumed live one; a refused
//     attempt changes nothing;
//   - DeleteUserTickets leaves used tickets used, "" means every kind, and
//     an unknown user is no error; DeleteUser and LinkUsers (for the
//     secondary) delete the user's tickets;
//   - SetPassword and SetEmailVerified change that field and UpdatedAt only;
//   - DeleteUserSessions and RevokeUserRefreshTokens return 0 for a user with
//     nothing left; RevokeUserRefreshTokens counts each family once, also
//     a family with rotated tokens, and not one revoked before.

// newTicket returns a ticket with every field set that is live from t0 for
// thirty minutes.
func newTicket(id, kind, userID string) store.Ticket {
	return store.Ticket{
		ID:        id,
		Kind:      kind,
		UserID:    userID,
		Email:     "Ada@Example.com",
		ClientID:  "client-1",
		RequestID: "req-" + id,
		ResultURL: "https://app.example/done?from=" + id,
		CreatedAt: t0.In(elsewhere),
		ExpiresAt: t0.Add(30 * time.Minute).In(elsewhere),

		KeepEmailUnverified: true,
	}
}

// testTickets runs the ticket and account tests on one store; each uses
// users and keys of its own.
func testTickets(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		// First, while the store holds nothing else that expires.
		{"DeleteExpired", testTicketsDeleteExpired},
		{"Lifecycle", testTicketLifecycle},
		{"Refused", testTicketRefused},
		{"DeleteUserTickets", testDeleteUserTickets},
		{"DeleteWithUser", testTicketsDeleteWithUser},
		{"SetPassword", testSetPassword},
		{"SetEmailVerified", testSetEmailVerified},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"RevokeUserRefreshTokens", testRevokeUserRefreshTokens},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

func testTicketLifecycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("gatehouse|life", "life@example.com")), "create user")
	tk := newTicket("ticket-life", store.TicketPasswordReset, "gatehouse|life")
	must(t, s.CreateTicket(ctx, tk), "create ticket")

	wantErr(t, s.CreateTicket(ctx, newTicket(tk.ID, store.TicketEmailVerification, "gatehouse|life")),
		store.ErrConflict, "create ticket with taken id")

	// Reading shows the form and spends nothing, however often.
	for range 2 {
		got, err := s.GetTicket(ctx, tk.ID, tk.Kind, t0)
		must(t, err, "get ticket")
		wantEqual(t, got, tk, "get ticket")
	}
	got, err := s.ConsumeTicket(ctx, tk.ID, tk.Kind, t0.Add(time.Minute))
	must(t, err, "consume ticket")
	wantEqual(t, got, tk, "consume ticket")

	_, err = s.ConsumeTicket(ctx, tk.ID, tk.Kind, t0.Add(2*time.Minute))
	wantErr(t, err, store.ErrAlreadyUsed, "consume ticket twice")
	_, err = s.GetTicket(ctx, tk.ID, tk.Kind, t0.Add(2*time.Minute))
	wantErr(t, err, store.ErrAlreadyUsed, "get used ticket")
	// Once expired, a used ticket is as unknown as any other.
	_, err = s.ConsumeTicket(ctx, tk.ID, tk.Kind, tk.ExpiresAt)
	wantErr(t, err, store.ErrNotFound, "consume used ticket at expiry")
	_, err = s.GetTicket(ctx, tk.ID, tk.Kind, tk.ExpiresAt)
	wantErr(t, err, store.ErrNotFound, "get used ticket at expiry")
	_, err = s.GetTicket(ctx, tk.ID, store.TicketEmailVerification, t0)
	wantErr(t, err, store.ErrNotFound, "get used ticket as another kind")

	// An email-verification ticket goes the same way.
	v := newTicket("ticket-verify", store.TicketEmailVerification, "gatehouse|life")
	v.ClientID, v.RequestID, v.ResultURL = "", "", "" // all optional
	must(t, s.CreateTicket(ctx, v), "create verification ticket")
	got, err = s.ConsumeTicket(ctx, v.ID, v.Kind, t0)
	must(t, err, "consume verification ticket")
	wantEqual(t, got, v, "consume verification ticket")
}

func testTicketRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.CreateUser(ctx, newUser("gatehouse|refused", "refused@example.com")), "create user")
	tk := newTicket("ticket-refused", store.TicketPasswordReset, "gatehouse|refused")
	must(t, s.CreateTicket(ctx, tk), "create ticket")

	wantErr(t, s.CreateTicket(ctx, newTicket("ticket-nobody", store.TicketPasswordReset, "gatehouse|nobody")),
		store.ErrNotFound, "create ticket of an unknown user")
	_, err := s.GetTicket(ctx, "ticket-nobody", store.TicketPasswordReset, t0)
	wantErr(t, err, store.ErrNotFound, "get ticket refused for an unknown user")

	for _, tc := range []struct {
		name     string
		id, kind string
		now      time.Time
	}{
		{"unknown", "ticket-unknown", tk.Kind, t0},
		{"empty id", "", tk.Kind, t0},
		{"another kind", tk.ID, store.TicketEmailVerification, t0},
		{"empty kind", tk.ID, "", t0},
		{"at expiry", tk.ID, tk.Kind, tk.ExpiresAt},
		{"after expiry", tk.ID, tk.Kind, tk.ExpiresAt.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.GetTicket(t.Context(), tc.id, tc.kind, tc.now)
			wantErr(t, err, store.ErrNotFound, "get ticket")
			_, err = s.ConsumeTicket(t.Context(), tc.id, tc.kind, tc.now)
			wantErr(t, err, store.ErrNotFound, "consume ticket")
		})
	}
	// None of the refusals spent it.
	got, err := s.ConsumeTicket(ctx, tk.ID, tk.Kind, tk.ExpiresAt.Add(-time.Millisecond))
	must(t, err, "consume ticket just before expiry")
	wantEqual(t, got, tk, "consume ticket after refusals")
}

func testDeleteUserTickets(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ada, bob = "gatehouse|del-ada", "gatehouse|del-bob"
	must(t, s.CreateUser(ctx, newUser(ada, "del-ada@example.com")), "create ada")
	must(t, s.CreateUser(ctx, newUser(bob, "del-bob@example.com")), "create bob")
	const reset, verify = store.TicketPasswordReset, store.TicketEmailVerification
	for _, tk := range []store.Ticket{
		newTicket("del-ada-reset-1", reset, ada),
		newTicket("del-ada-reset-2", reset, ada),
		newTicket("del-ada-verify", verify, ada),
		newTicket("del-bob-reset", reset, bob),
	} {
		must(t, s.CreateTicket(ctx, tk), "create ticket "+tk.ID)
	}
	_, err := s.ConsumeTicket(ctx, "del-ada-reset-2", reset, t0)
	must(t, err, "consume a reset ticket")

	// A newer reset link: ada's unused reset link goes; the used one stays
	// used; her verification link and bob's links stay live.
	must(t, s.DeleteUserTickets(ctx, ada, reset), "delete ada's reset tickets")
	wantTickets(t, s, []wantTicket{
		{"del-ada-reset-1", reset, store.ErrNotFound},
		{"del-ada-reset-2", reset, store.ErrAlreadyUsed},
		{"del-ada-verify", verify, nil},
		{"del-bob-reset", reset, nil},
	})

	must(t, s.DeleteUserTickets(ctx, ada, reset), "delete ada's reset tickets again")
	must(t, s.DeleteUserTickets(ctx, "gatehouse|nobody", ""), "delete tickets of an unknown user")
	must(t, s.CreateTicket(ctx, newTicket("del-ada-reset-3", reset, ada)), "create another reset ticket")
	must(t, s.DeleteUserTickets(ctx, ada, ""), "delete all of ada's tickets")
	wantTickets(t, s, []wantTicket{
		{"del-ada-reset-2", reset, store.ErrAlreadyUsed},
		{"del-ada-reset-3", reset, store.ErrNotFound},
		{"del-ada-verify", verify, store.ErrNotFound},
		{"del-bob-reset", reset, nil},
	})
}

// wantTicket is what GetTicket of a ticket should return: nil for a live
// one, ErrAlreadyUsed or ErrNotFound.
type wantTicket struct {
	id, kind string
	err      error
}

func wantTickets(t *testing.T, s store.Store, want []wantTicket) {
	t.Helper()
	for _, w := range want {
		_, err := s.GetTicket(t.Context(), w.id, w.kind, t0)
		if w.err == nil {
			must(t, err, "get ticket "+w.id)
		} else {
			wantErr(t, err, w.err, "get ticket "+w.id)
		}
	}
}

func testTicketsDeleteWithUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ada = "gatehouse|gone-ada"
	must(t, s.CreateUser(ctx, newUser(ada, "gone-ada@example.com")), "create user")
	must(t, s.CreateTicket(ctx, newTicket("gone-reset", store.TicketPasswordReset, ada)), "create ticket")
	must(t, s.DeleteUser(ctx, ada), "delete user")
	// Created again with the same ID, the user does not get the link back.
	must(t, s.CreateUser(ctx, newUser(ada, "gone-ada@example.com")), "create user again")
	_, err := s.ConsumeTicket(ctx, "gone-reset", store.TicketPasswordReset, t0)
	wantErr(t, err, store.ErrNotFound, "consume ticket of a deleted user")

	// Linking deletes the secondary user, and its tickets with it; the
	// primary's stay.
	const gh = "github|gone-1815"
	must(t, s.CreateUser(ctx, githubUser("gone-1815", "gone-gh@example.com")), "create github user")
	must(t, s.CreateTicket(ctx, newTicket("gone-gh-verify", store.TicketEmailVerification, gh)), "create secondary's ticket")
	must(t, s.CreateTicket(ctx, newTicket("gone-ada-verify", store.TicketEmailVerification, ada)), "create primary's ticket")
	_, err = s.LinkUsers(ctx, ada, gh)
	must(t, err, "link users")
	_, err = s.GetTicket(ctx, "gone-gh-verify", store.TicketEmailVerification, t0)
	wantErr(t, err, store.ErrNotFound, "get ticket of a linked secondary")
	_, err = s.GetTicket(ctx, "gone-ada-verify", store.TicketEmailVerification, t0)
	must(t, err, "get ticket of the primary")
}

func testTicketsDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ada = "gatehouse|exp-ada"
	must(t, s.CreateUser(ctx, newUser(ada, "exp-ada@example.com")), "create user")
	now := t0.Add(time.Hour)
	expired := newTicket("exp-expired", store.TicketPasswordReset, ada) // ends at t0+30m
	used := newTicket("exp-used", store.TicketPasswordReset, ada)
	used.ExpiresAt = now.Add(time.Hour)
	live := newTicket("exp-live", store.TicketEmailVerification, ada)
	live.ExpiresAt = now.Add(24 * time.Hour)
	for _, tk := range []store.Ticket{expired, used, live} {
		must(t, s.CreateTicket(ctx, tk), "create ticket "+tk.ID)
	}
	_, err := s.ConsumeTicket(ctx, used.ID, used.Kind, now)
	must(t, err, "consume ticket")

	n, err := s.DeleteExpired(ctx, now)
	must(t, err, "delete expired")
	if n != 1 {
		t.Errorf("DeleteExpired removed %d rows, want 1: the expired ticket", n)
	}
	n, err = s.DeleteExpired(ctx, now)
	must(t, err, "delete expired again")
	if n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}
	// The used ticket stays until it expires, so a second use is still
	// told apart from a forged link.
	_, err = s.GetTicket(ctx, used.ID, used.Kind, now)
	wantErr(t, err, store.ErrAlreadyUsed, "get used ticket after DeleteExpired")
	_, err = s.GetTicket(ctx, live.ID, live.Kind, now)
	must(t, err, "get live ticket after DeleteExpired")
	// Gone for good: even a clock that reads earlier cannot find it.
	_, err = s.GetTicket(ctx, expired.ID, expired.Kind, t0)
	wantErr(t, err, store.ErrNotFound, "get deleted expired ticket")
}

func testSetPassword(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("gatehouse|pw", "pw@example.com")
	must(t, s.CreateUser(ctx, u), "create user")
	at := t0.Add(time.Hour).In(elsewhere)
	must(t, s.SetPassword(ctx, u.ID, "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA", at), "set password")
	want := u
	want.PasswordHash, want.UpdatedAt = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA", at
	got, err := s.GetUser(ctx, u.ID)
	must(t, err, "get user")
	wantEqual(t, got, want, "user after SetPassword")

	wantErr(t, s.SetPassword(ctx, "gatehouse|nobody", "x", at), store.ErrNotFound, "set password of an unknown user")
}

func testSetEmailVerified(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := newUser("gatehouse|ev", "ev@example.com")
	u.EmailVerified = false
	must(t, s.CreateUser(ctx, u), "create user")
	want := u
	for i, verified := range []bool{true, true, false} {
		at := t0.Add(time.Duration(i+1) * time.Minute).In(elsewhere)
		must(t, s.SetEmailVerified(ctx, u.ID, verified, at), "set email verified")
		want.EmailVerified, want.UpdatedAt = verified, at
		got, err := s.GetUser(ctx, u.ID)
		must(t, err, "get user")
		wantEqual(t, got, want, fmt.Sprintf("user after SetEmailVerified(%v)", verified))
	}
	wantErr(t, s.SetEmailVerified(ctx, "gatehouse|nobody", true, t0), store.ErrNotFound, "set email verified of an unknown user")
}

func testDeleteUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ada, bob = "gatehouse|sess-ada", "gatehouse|sess-bob"
	for _, sess := range []store.Session{
		newSession("sess-ada-1", ada), newSession("sess-ada-2", ada), newSession("sess-ada-3", ada),
		newSession("sess-bob-1", bob),
	} {
		must(t, s.CreateSession(ctx, sess), "create session "+sess.ID)
	}
	live := func(id string) bool {
		_, err := s.GetSession(ctx, id, t0)
		return err == nil
	}

	n, err := s.DeleteUserSessions(ctx, ada, "sess-ada-2")
	must(t, err, "delete ada's other sessions")
	if n != 2 {
		t.Errorf("DeleteUserSessions removed %d sessions, want 2", n)
	}
	if live("sess-ada-1") || !live("sess-ada-2") || live("sess-ada-3") || !live("sess-bob-1") {
		t.Errorf("after deleting ada's other sessions: ada-1 %v, ada-2 %v, ada-3 %v, bob-1 %v; want false true false true",
			live("sess-ada-1"), live("sess-ada-2"), live("sess-ada-3"), live("sess-bob-1"))
	}
	// Another user's session is no exception for ada.
	n, err = s.DeleteUserSessions(ctx, ada, "sess-bob-1")
	must(t, err, "delete ada's sessions but bob's")
	if n != 1 || live("sess-ada-2") || !live("sess-bob-1") {
		t.Errorf("DeleteUserSessions but another user's session removed %d, ada-2 %v, bob-1 %v; want 1, false, true",
			n, live("sess-ada-2"), live("sess-bob-1"))
	}
	for _, user := range []string{ada, "gatehouse|nobody"} {
		n, err = s.DeleteUserSessions(ctx, user, "")
		must(t, err, "delete sessions of "+user)
		if n != 0 {
			t.Errorf("DeleteUserSessions of %s removed %d, want 0", user, n)
		}
	}
}

func testRevokeUserRefreshTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ada, bob = "gatehouse|rev-ada", "gatehouse|rev-bob"
	// Ada: family 1 rotated once, family 2 fresh, family 3 revoked before.
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("rev-1a", "rev-grant-1", ada)), "create refresh token 1a")
	_, err := s.RotateRefreshToken(ctx, "rev-1a", newRefreshToken("rev-1b", "rev-grant-1", ada), t0, 0, nil)
	must(t, err, "rotate 1a")
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("rev-2", "rev-grant-2", ada)), "create refresh token 2")
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("rev-3", "rev-grant-3", ada)), "create refresh token 3")
	must(t, s.RevokeGrant(ctx, "rev-grant-3"), "revoke grant 3")
	must(t, s.CreateRefreshToken(ctx, newRefreshToken("rev-bob", "rev-grant-bob", bob)), "create bob's refresh token")
	adaAT := []store.AccessToken{
		newAccessToken("rev-at-1", "rev-grant-1", ada),
		// An access token of a code grant without refresh tokens.
		newAccessToken("rev-at-code", "rev-grant-code", ada),
	}
	bobAT := newAccessToken("rev-at-bob", "rev-grant-bob", bob)
	for _, a := range append(adaAT, bobAT) {
		must(t, s.CreateAccessToken(ctx, a), "create access token "+a.ID)
	}

	n, err := s.RevokeUserRefreshTokens(ctx, ada)
	must(t, err, "revoke ada's refresh tokens")
	if n != 2 {
		t.Errorf("RevokeUserRefreshTokens = %d, want 2 families", n)
	}
	for _, id := range []string{"rev-1a", "rev-1b", "rev-2", "rev-3"} {
		wantRefreshRevoked(t, s, id, true)
	}
	wantRefreshRevoked(t, s, "rev-bob", false)
	for _, a := range adaAT {
		_, err := s.GetAccessToken(ctx, a.ID, t0)
		wantErr(t, err, store.ErrNotFound, "get revoked access token "+a.ID)
	}
	wantLiveAccessToken(t, s, bobAT)

	for _, user := range []string{ada, "gatehouse|nobody"} {
		n, err = s.RevokeUserRefreshTokens(ctx, user)
		must(t, err, "revoke refresh tokens of "+user)
		if n != 0 {
			t.Errorf("RevokeUserRefreshTokens of %s = %d, want 0", user, n)
		}
	}
}

// raceTickets runs the races of tickets and account changes on one store.
func raceTickets(t *testing.T, s store.Store) {
	t.Run("ConsumeTicket", func(t *testing.T) { raceConsumeTicket(t, s) })
	t.Run("RevokeUserRefreshTokens", func(t *testing.T) { raceRevokeUserRefreshTokens(t, s) })
	t.Run("NarrowUserUpdates", func(t *testing.T) { raceNarrowUserUpdates(t, s) })
}

// raceConsumeTicket: of 20 consumers of one link exactly one wins.
func raceConsumeTicket(t *testing.T, s store.Store) {
	const n = 20
	must(t, s.CreateUser(t.Context(), newUser("gatehouse|race-ticket", "race-ticket@example.com")), "create user")
	tk := newTicket("race-ticket", store.TicketPasswordReset, "gatehouse|race-ticket")
	must(t, s.CreateTicket(t.Context(), tk), "create ticket")
	got := make([]store.Ticket, n)
	errs := race(n, func(i int) error {
		var err error
		got[i], err = s.ConsumeTicket(t.Context(), tk.ID, tk.Kind, t0.Add(time.Second))
		return err
	})
	c := tally(errs, store.ErrAlreadyUsed)
	if c["ok"] != 1 || c[store.ErrAlreadyUsed.Error()] != n-1 {
		t.Fatalf("%d concurrent consumers: %v (first unexpected error: %v); want 1 ok, %d already used",
			n, c, firstOther(errs, store.ErrAlreadyUsed), n-1)
	}
	for i, err := range errs {
		if err == nil {
			wantEqual(t, got[i], tk, "the winner's ticket")
		}
	}
}

// raceRevokeUserRefreshTokens: refresh tokens rotating while the user's
// tokens are revoked either fail or are revoked too; none survives.
func raceRevokeUserRefreshTokens(t *testing.T, s store.Store) {
	const n = 20
	const ada = "gatehouse|race-revoke"
	for i := range n {
		must(t, s.CreateRefreshToken(t.Context(), newRefreshToken(fmt.Sprintf("race-rev-%02d", i), fmt.Sprintf("race-rev-grant-%02d", i), ada)),
			"create refresh token")
	}
	var revoked int64
	errs := race(n+1, func(i int) error {
		if i == n {
			var err error
			revoked, err = s.RevokeUserRefreshTokens(t.Context(), ada)
			return err
		}
		next := newRefreshToken(fmt.Sprintf("race-rev-%02d-next", i), fmt.Sprintf("race-rev-grant-%02d", i), ada)
		access := newAccessToken(fmt.Sprintf("race-rev-at-%02d", i), next.FamilyID, ada)
		_, err := s.RotateRefreshToken(t.Context(), fmt.Sprintf("race-rev-%02d", i), next, t0.Add(time.Second), 0, &access)
		return err
	})
	if err := errs[n]; err != nil {
		t.Fatalf("revoke user refresh tokens: %v", err)
	}
	if revoked != n {
		t.Errorf("RevokeUserRefreshTokens = %d, want %d families", revoked, n)
	}
	for i, err := range errs[:n] {
		if err != nil && !errors.Is(err, store.ErrRevoked) {
			t.Errorf("rotation %d: %v, want success or ErrRevoked", i, err)
		}
		wantRefreshRevoked(t, s, fmt.Sprintf("race-rev-%02d", i), true)
		if _, err := s.GetRefreshToken(t.Context(), fmt.Sprintf("race-rev-%02d-next", i)); err == nil {
			wantRefreshRevoked(t, s, fmt.Sprintf("race-rev-%02d-next", i), true)
		}
		if _, err := s.GetAccessToken(t.Context(), fmt.Sprintf("race-rev-at-%02d", i), t0.Add(time.Second)); err == nil {
			t.Errorf("rotation %d: its access token outlived the revocation", i)
		}
	}
}

// raceNarrowUserUpdates: password, verification and login writers racing
// on one user each keep their field.
func raceNarrowUserUpdates(t *testing.T, s store.Store) {
	const n = 21
	u := newUser("gatehouse|race-narrow", "race-narrow@example.com")
	u.EmailVerified, u.LoginsCount = false, 0
	must(t, s.CreateUser(t.Context(), u), "create user")
	errs := race(n, func(i int) error {
		switch i % 3 {
		case 0:
			return s.SetPassword(t.Context(), u.ID, "new-hash", t0)
		case 1:
			return s.SetEmailVerified(t.Context(), u.ID, true, t0)
		}
		return s.RecordLogin(t.Context(), u.ID, t0)
	})
	for i, err := range errs {
		must(t, err, fmt.Sprintf("writer %d", i))
	}
	got, err := s.GetUser(t.Context(), u.ID)
	must(t, err, "get user")
	if got.PasswordHash != "new-hash" || !got.EmailVerified || got.LoginsCount != n/3 {
		t.Errorf("after the race: password hash %q, email verified %v, logins %d; want new-hash, true, %d",
			got.PasswordHash, got.EmailVerified, got.LoginsCount, n/3)
	}
}
