package storetest

import (
	"fmt"
	"slices"
	"testing"

	"gatehouse/internal/store"
)

// githubUser returns a user of the github connection whose one identity is
// the GitHub account githubID.
func githubUser(githubID, email string) store.User {
	u := newUser("github|"+githubID, email)
	u.Connection, u.PasswordHash = "github", ""
	u.Name, u.Nickname, u.LoginsCount = "Ada on GitHub", "ada-gh", 7
	u.Identities = []store.Identity{{Connection: "github", Provider: "github", UserID: githubID}}
	return u
}

// wantLinked fails unless got is primary holding its own identities and
// then secondary's, and unless every one of them finds it.
func wantLinked(t *testing.T, s store.Store, got, primary, secondary store.User, op string) {
	t.Helper()
	want := primary
	want.Identities = slices.Concat(primary.Identities, secondary.Identities)
	wantEqual(t, got, want, op+": returned user")
	stored, err := s.GetUser(t.Context(), primary.ID)
	must(t, err, op+": get primary")
	wantEqual(t, stored, got, op+": stored primary")
	for _, id := range want.Identities {
		byID, err := s.GetUserByIdentity(t.Context(), id.Connection, id.UserID)
		must(t, err, op+": get user by identity at "+id.Connection)
		wantEqual(t, byID, want, op+": user by identity at "+id.Connection)
	}
	_, err = s.GetUser(t.Context(), secondary.ID)
	wantErr(t, err, store.ErrNotFound, op+": get linked secondary")
}

func testLinkUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := newUser("gatehouse|ada", "ada@example.com")
	ada.Identities = append(ada.Identities, store.Identity{Connection: "google-oauth2", Provider: "google-oauth2", UserID: "1852"})
	// The same person signed in with GitHub, under the same email in
	// another connection: two users until an operator links them.
	gh := githubUser("1815", ada.Email)
	gh.Identities = append(gh.Identities, store.Identity{Connection: "corp-oidc", Provider: "oidc", UserID: "ada@corp"})
	adaIn := issueUser(t, s, ada)
	ghIn := issueUser(t, s, gh)
	bobIn := issueUser(t, s, newUser("gatehouse|bob", "bob@example.com"))
	bob := bobIn.user

	// Ada and her GitHub user share acme; each has one more organization.
	acme, globex, initech := newOrganization("org_1", "acme"), newOrganization("org_2", "globex"), newOrganization("org_3", "initech")
	for _, o := range []store.Organization{acme, globex, initech} {
		must(t, s.CreateOrganization(ctx, o), "create organization "+o.Name)
	}
	for _, m := range []struct{ org, user string }{
		{acme.ID, ada.ID}, {acme.ID, gh.ID}, {acme.ID, bob.ID},
		{globex.ID, gh.ID},
		{initech.ID, ada.ID},
	} {
		must(t, s.AddMember(ctx, m.org, m.user), "add member")
	}

	got, err := s.LinkUsers(ctx, ada.ID, gh.ID)
	must(t, err, "link github user to ada")
	// Every field of ada but Identities, UpdatedAt included, stays as it
	// was; nothing of the GitHub user's profile is merged.
	wantLinked(t, s, got, ada, gh, "link")
	_, err = s.GetUserByEmail(ctx, gh.Connection, gh.Email)
	wantErr(t, err, store.ErrNotFound, "get linked github user by email")
	list, err := s.ListUsers(ctx)
	must(t, err, "list users")
	wantEqual(t, list, []store.User{got, bob}, "users after link")

	// Memberships are the union, without duplicates; the GitHub user's
	// are gone with it.
	wantMembers(t, s, acme.ID, []string{ada.ID, bob.ID}, "after link")
	wantMembers(t, s, globex.ID, []string{ada.ID}, "after link")
	wantMembers(t, s, initech.ID, []string{ada.ID}, "after link")
	wantUserOrganizations(t, s, ada.ID, []store.Organization{acme, globex, initech}, "linked ada")
	wantUserOrganizations(t, s, gh.ID, nil, "linked github user")

	// Everything issued to the GitHub user is gone, as with DeleteUser;
	// ada's and bob's records stay, ada's grant not merged with the
	// GitHub user's.
	wantIssuedGone(t, s, ghIn, "linked github user")
	wantIssuedKept(t, s, adaIn, "ada")
	wantIssuedKept(t, s, bobIn, "bob")

	// The moved identities are ada's now: no one else can take them.
	thief := githubUser("1815", "thief@example.com")
	wantErr(t, s.CreateUser(ctx, thief), store.ErrConflict, "create user with a linked identity")
	thief.Identities = []store.Identity{{Connection: "corp-oidc", Provider: "oidc", UserID: "ada@corp"}}
	wantErr(t, s.CreateUser(ctx, thief), store.ErrConflict, "create user with a linked identity")
	// The GitHub user's ID and email are free again.
	fresh := githubUser("1815", gh.Email)
	fresh.Identities = nil
	must(t, s.CreateUser(ctx, fresh), "create user with the linked user's ID and email")
	wantUserOrganizations(t, s, fresh.ID, nil, "user created with the linked user's ID")
}

// testLinkUsersIdentities links users with more, one or no identities:
// the secondary's always follow the primary's, in their order.
func testLinkUsersIdentities(t *testing.T, s store.Store) {
	ident := func(conn, id string) store.Identity {
		return store.Identity{Connection: conn, Provider: conn, UserID: id}
	}
	tests := []struct {
		name               string
		primary, secondary []store.Identity
	}{
		{"several each", []store.Identity{ident("db", "p1"), ident("google", "p1"), ident("github", "p1")},
			[]store.Identity{ident("github", "s1"), ident("corp", "s1"), ident("db", "s1")}},
		{"one each", []store.Identity{ident("db", "p2")}, []store.Identity{ident("github", "s2")}},
		{"primary without identities", nil, []store.Identity{ident("github", "s3"), ident("corp", "s3")}},
		{"secondary without identities", []store.Identity{ident("db", "p4"), ident("github", "p4")}, nil},
		{"neither with identities", nil, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			primary := newUser(fmt.Sprintf("gatehouse|p%d", i), fmt.Sprintf("p%d@example.com", i))
			primary.Identities = tc.primary
			secondary := githubUser(fmt.Sprintf("s%d", i), fmt.Sprintf("s%d@example.com", i))
			secondary.Identities = tc.secondary
			must(t, s.CreateUser(ctx, primary), "create primary")
			must(t, s.CreateUser(ctx, secondary), "create secondary")
			got, err := s.LinkUsers(ctx, primary.ID, secondary.ID)
			must(t, err, "link")
			wantLinked(t, s, got, primary, secondary, "link")
		})
	}

	t.Run("second link", func(t *testing.T) {
		// Positions run on after an earlier link too.
		ctx := t.Context()
		ada := newUser("gatehouse|ada", "ada@example.com")
		first, second := githubUser("1815", ""), githubUser("1816", "")
		second.Identities = append(second.Identities, ident("corp", "1816"))
		for _, u := range []store.User{ada, first, second} {
			must(t, s.CreateUser(ctx, u), "create "+u.ID)
		}
		got, err := s.LinkUsers(ctx, ada.ID, first.ID)
		must(t, err, "first link")
		wantLinked(t, s, got, ada, first, "first link")
		linked := got
		got, err = s.LinkUsers(ctx, ada.ID, second.ID)
		must(t, err, "second link")
		wantLinked(t, s, got, linked, second, "second link")
	})
}

// testLinkUsersRefused links unknown users and a user to itself: each is
// refused and changes nothing.
func testLinkUsersRefused(t *testing.T, s store.Store) {
	ctx := t.Context()
	bobIn := issueUser(t, s, newUser("gatehouse|bob", "bob@example.com"))
	carolIn := issueUser(t, s, githubUser("2001", "carol@example.com"))
	bob, carol := bobIn.user, carolIn.user
	acme, globex := newOrganization("org_1", "acme"), newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(ctx, acme), "create acme")
	must(t, s.CreateOrganization(ctx, globex), "create globex")
	must(t, s.AddMember(ctx, acme.ID, bob.ID), "add bob to acme")
	must(t, s.AddMember(ctx, globex.ID, carol.ID), "add carol to globex")

	const nobody = "gatehouse|nobody"
	tests := []struct {
		name               string
		primary, secondary string
		want               error // nil: any error
	}{
		{"unknown primary", nobody, bob.ID, store.ErrNotFound},
		{"unknown secondary", bob.ID, nobody, store.ErrNotFound},
		{"both unknown", nobody, "github|nobody", store.ErrNotFound},
		{"same user", bob.ID, bob.ID, nil},
		{"same user, other one", carol.ID, carol.ID, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			_, err := s.LinkUsers(ctx, tc.primary, tc.secondary)
			switch {
			case tc.want != nil:
				wantErr(t, err, tc.want, "link")
			case err == nil:
				t.Fatalf("LinkUsers(%q, %q) succeeded, want an error", tc.primary, tc.secondary)
			}
			for _, u := range []store.User{bob, carol} {
				got, err := s.GetUser(ctx, u.ID)
				must(t, err, "get "+u.ID)
				wantEqual(t, got, u, "user after refused link")
				byID, err := s.GetUserByIdentity(ctx, u.Identities[0].Connection, u.Identities[0].UserID)
				must(t, err, "get "+u.ID+" by identity")
				wantEqual(t, byID, u, "user by identity after refused link")
				sess, err := s.GetSession(ctx, "session-"+u.ID, t0)
				must(t, err, "get session of "+u.ID)
				if sess.UserID != u.ID {
					t.Fatalf("session of %s belongs to %q after refused link", u.ID, sess.UserID)
				}
			}
			_, err = s.GetUser(ctx, nobody)
			wantErr(t, err, store.ErrNotFound, "refused link must not create")
			wantUserOrganizations(t, s, bob.ID, []store.Organization{acme}, "bob after refused link")
			wantUserOrganizations(t, s, carol.ID, []store.Organization{globex}, "carol after refused link")
		})
	}
	wantIssuedKept(t, s, bobIn, "bob after refused links")
	wantIssuedKept(t, s, carolIn, "carol after refused links")
}
