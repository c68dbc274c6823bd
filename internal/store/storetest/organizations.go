package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// wantOrganization fails unless the organization is stored as want, both by
// ID and by name.
func wantOrganization(t *testing.T, s store.Store, want store.Organization, op string) {
	t.Helper()
	got, err := s.GetOrganization(t.Context(), want.ID)
	must(t, err, op+": get organization "+want.ID)
	wantEqual(t, got, want, op+": organization "+want.ID)
	got, err = s.GetOrganizationByName(t.Context(), want.Name)
	must(t, err, op+": get organization by name "+want.Name)
	wantEqual(t, got, want, op+": organization named "+want.Name)
}

// wantNoOrganization fails unless neither the ID nor the name is stored.
func wantNoOrganization(t *testing.T, s store.Store, id, name, op string) {
	t.Helper()
	_, err := s.GetOrganization(t.Context(), id)
	wantErr(t, err, store.ErrNotFound, op+": get organization "+id)
	_, err = s.GetOrganizationByName(t.Context(), name)
	wantErr(t, err, store.ErrNotFound, op+": get organization by name "+name)
}

// listOrganizations lists every organization, sorted by name.
func listOrganizations(t *testing.T, s store.Store) []store.Organization {
	t.Helper()
	list, err := s.ListOrganizations(t.Context())
	must(t, err, "list organizations")
	slices.SortFunc(list, func(a, b store.Organization) int { return cmp.Compare(a.Name, b.Name) })
	return list
}

// wantMembers fails unless the organization has exactly userIDs as members,
// in that order.
func wantMembers(t *testing.T, s store.Store, orgID string, userIDs []string, op string) {
	t.Helper()
	got, err := s.ListMembers(t.Context(), orgID)
	must(t, err, op+": list members of "+orgID)
	wantEqual(t, got, userIDs, op+": members of "+orgID)
}

// wantMember fails unless IsMember reports want.
func wantMember(t *testing.T, s store.Store, orgID, userID string, want bool, op string) {
	t.Helper()
	got, err := s.IsMember(t.Context(), orgID, userID)
	must(t, err, op+": is member")
	if got != want {
		t.Fatalf("%s: IsMember(%q, %q) = %v, want %v", op, orgID, userID, got, want)
	}
}

// wantUserOrganizations fails unless the user is a member of exactly orgs,
// in that order.
func wantUserOrganizations(t *testing.T, s store.Store, userID string, orgs []store.Organization, op string) {
	t.Helper()
	got, err := s.UserOrganizations(t.Context(), userID)
	must(t, err, op+": organizations of "+userID)
	wantEqual(t, got, orgs, op+": organizations of "+userID)
}

// wantInvitation fails unless the invitation is stored as want, both by ID
// and by ticket.
func wantInvitation(t *testing.T, s store.Store, want store.Invitation, op string) {
	t.Helper()
	got, err := s.GetInvitation(t.Context(), want.ID)
	must(t, err, op+": get invitation "+want.ID)
	wantEqual(t, got, want, op+": invitation "+want.ID)
	got, err = s.GetInvitationByTicket(t.Context(), want.TicketHash)
	must(t, err, op+": get invitation by ticket "+want.TicketHash)
	wantEqual(t, got, want, op+": invitation by ticket "+want.TicketHash)
}

func testOrganizations(t *testing.T, s store.Store) {
	ctx := t.Context()
	o1 := newOrganization("org_1", "acme")
	o2 := store.Organization{
		ID:        "org_2",
		Name:      "globex",
		CreatedAt: t0.In(elsewhere),
		UpdatedAt: t0.In(elsewhere),
	}

	wantNoOrganization(t, s, o1.ID, o1.Name, "before create")
	if list := listOrganizations(t, s); len(list) != 0 {
		t.Fatalf("list organizations of a new store: got %d", len(list))
	}

	must(t, s.CreateOrganization(ctx, o1), "create organization 1")
	must(t, s.CreateOrganization(ctx, o2), "create organization 2")
	wantOrganization(t, s, o1, "after create")
	wantOrganization(t, s, o2, "after create")

	// A taken ID or name is refused, and nothing of the refused one stays.
	dupID := newOrganization(o1.ID, "impostor")
	dupID.Connections = []store.OrgConnection{{Name: "impostor-idp"}}
	wantErr(t, s.CreateOrganization(ctx, dupID), store.ErrConflict, "create organization with taken id")
	dupName := newOrganization("org_impostor", o1.Name)
	dupName.Connections = []store.OrgConnection{{Name: "impostor-idp"}}
	wantErr(t, s.CreateOrganization(ctx, dupName), store.ErrConflict, "create organization with taken name")
	wantNoOrganization(t, s, dupName.ID, dupID.Name, "after conflicts")
	wantOrganization(t, s, o1, "after conflicting creates")

	wantEqual(t, listOrganizations(t, s), []store.Organization{o1, o2}, "list organizations")

	must(t, s.DeleteOrganization(ctx, o1.ID), "delete organization 1")
	wantNoOrganization(t, s, o1.ID, o1.Name, "after delete")
	wantErr(t, s.DeleteOrganization(ctx, o1.ID), store.ErrNotFound, "delete organization twice")
	wantErr(t, s.DeleteOrganization(ctx, "org_unknown"), store.ErrNotFound, "delete unknown organization")
	wantEqual(t, listOrganizations(t, s), []store.Organization{o2}, "list organizations after delete")

	// A deleted name is free again, and its connections went with it.
	again := newOrganization("org_3", o1.Name)
	again.Connections = nil
	must(t, s.CreateOrganization(ctx, again), "create organization with a freed name")
	wantOrganization(t, s, again, "organization with a freed name")
	again.ID, again.Name = o1.ID, "acme-again"
	must(t, s.CreateOrganization(ctx, again), "create organization with a freed id")
	wantOrganization(t, s, again, "organization with a freed id")
}

func testUpdateOrganization(t *testing.T, s store.Store) {
	ctx := t.Context()
	o1, o2 := newOrganization("org_1", "acme"), newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(ctx, o1), "create organization 1")
	must(t, s.CreateOrganization(ctx, o2), "create organization 2")

	tests := []struct {
		name string
		upd  store.Organization
	}{
		{"every field", store.Organization{
			ID:           o1.ID,
			Name:         "acme-renamed",
			DisplayName:  "Acme Renamed",
			LogoURL:      "https://cdn.example/new.svg",
			PrimaryColor: "#112233",
			// Ignored: SetOrgConnection's alone.
			Connections: []store.OrgConnection{
				{Name: "github", AssignMembership: true},
				{Name: "Corp", AssignMembership: false},
			},
			CreatedAt: t0.Add(time.Hour), // must be ignored
			UpdatedAt: t0.Add(time.Hour).In(elsewhere),
		}},
		{"back to the defaults", store.Organization{
			ID:        o1.ID,
			Name:      "acme",
			CreatedAt: t0.Add(2 * time.Hour), // must be ignored
		}},
		{"every field again", newOrganization(o1.ID, o1.Name)},
	}
	oldName := o1.Name
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			must(t, s.UpdateOrganization(ctx, tc.upd), "update organization 1")
			want := tc.upd
			// Connections are SetOrgConnection's alone.
			want.CreatedAt, want.Connections = o1.CreatedAt, o1.Connections
			wantOrganization(t, s, want, "updated organization 1")
			if oldName != want.Name {
				_, err := s.GetOrganizationByName(ctx, oldName)
				wantErr(t, err, store.ErrNotFound, "get organization by its old name")
			}
			oldName = want.Name
			wantOrganization(t, s, o2, "organization 2 after update of organization 1")
		})
	}

	t.Run("taken name", func(t *testing.T) {
		upd := newOrganization(o1.ID, o2.Name)
		upd.DisplayName, upd.Connections = "Impostor", []store.OrgConnection{{Name: "impostor-idp"}}
		wantErr(t, s.UpdateOrganization(t.Context(), upd), store.ErrConflict, "update organization to a taken name")
		wantOrganization(t, s, o1, "organization 1 after a refused update")
		wantOrganization(t, s, o2, "organization 2 after a refused update")
	})
	t.Run("unknown organization", func(t *testing.T) {
		wantErr(t, s.UpdateOrganization(t.Context(), newOrganization("org_unknown", "unknown")), store.ErrNotFound, "update unknown organization")
		wantNoOrganization(t, s, "org_unknown", "unknown", "update must not create")
	})
}

func testSetOrgConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	org := newOrganization("org_1", "acme")
	org.Connections = nil
	other := newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(ctx, org), "create organization")
	must(t, s.CreateOrganization(ctx, other), "create other organization")

	set := func(name string, assign, enabled bool, want []store.OrgConnection, op string) {
		t.Helper()
		must(t, s.SetOrgConnection(ctx, org.ID, store.OrgConnection{Name: name, AssignMembership: assign}, enabled), op)
		org.Connections = want
		wantOrganization(t, s, org, op)
	}
	// Byte order puts upper case first. The connections do not exist:
	// SetOrgConnection does not check connection names.
	set("github", false, true, []store.OrgConnection{{Name: "github"}}, "enable github")
	set("Corp", true, true, []store.OrgConnection{{Name: "Corp", AssignMembership: true}, {Name: "github"}}, "enable Corp")
	set("github", false, true, []store.OrgConnection{{Name: "Corp", AssignMembership: true}, {Name: "github"}}, "enable github twice")
	set("github", true, true, []store.OrgConnection{{Name: "Corp", AssignMembership: true}, {Name: "github", AssignMembership: true}}, "enable github again, assigning membership")
	set("github", true, false, []store.OrgConnection{{Name: "Corp", AssignMembership: true}}, "disable github")
	set("github", false, false, []store.OrgConnection{{Name: "Corp", AssignMembership: true}}, "disable github twice")
	set("never-enabled", false, false, []store.OrgConnection{{Name: "Corp", AssignMembership: true}}, "disable a connection never enabled")
	set("github", false, true, []store.OrgConnection{{Name: "Corp", AssignMembership: true}, {Name: "github"}}, "re-enable github without assigning membership")
	wantOrganization(t, s, other, "other organization")

	t.Run("unknown organization", func(t *testing.T) {
		for _, enabled := range []bool{true, false} {
			err := s.SetOrgConnection(t.Context(), "org_unknown", store.OrgConnection{Name: "github"}, enabled)
			wantErr(t, err, store.ErrNotFound, "set connection of unknown organization")
		}
		_, err := s.GetOrganization(t.Context(), "org_unknown")
		wantErr(t, err, store.ErrNotFound, "SetOrgConnection must not create")
	})
}

func testOrgMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Byte order puts upper case first: Zed before ada.
	ada, bob, zed := newUser("gatehouse|ada", "ada@example.com"), newUser("gatehouse|bob", "bob@example.com"), newUser("gatehouse|Zed", "zed@example.com")
	for _, u := range []store.User{ada, bob, zed} {
		must(t, s.CreateUser(ctx, u), "create user "+u.ID)
	}
	// Byte order puts "acme-west" before "acmeeast"; a collation that skips
	// punctuation does not.
	acme, west, east := newOrganization("org_3", "acme"), newOrganization("org_1", "acme-west"), newOrganization("org_2", "acmeeast")
	east.Connections = nil
	for _, o := range []store.Organization{acme, west, east} {
		must(t, s.CreateOrganization(ctx, o), "create organization "+o.Name)
	}

	wantMembers(t, s, acme.ID, nil, "new organization")
	wantUserOrganizations(t, s, ada.ID, nil, "before any membership")

	for _, u := range []store.User{bob, zed, ada} {
		must(t, s.AddMember(ctx, acme.ID, u.ID), "add "+u.ID+" to acme")
	}
	must(t, s.AddMember(ctx, acme.ID, ada.ID), "add ada to acme twice")
	wantMembers(t, s, acme.ID, []string{zed.ID, ada.ID, bob.ID}, "after adding three")
	for _, o := range []store.Organization{east, west} {
		must(t, s.AddMember(ctx, o.ID, ada.ID), "add ada to "+o.Name)
	}
	wantMembers(t, s, west.ID, []string{ada.ID}, "west")

	wantMember(t, s, acme.ID, ada.ID, true, "ada in acme")
	wantMember(t, s, west.ID, bob.ID, false, "bob in west")
	wantMember(t, s, "org_unknown", ada.ID, false, "ada in an unknown organization")
	wantMember(t, s, acme.ID, "gatehouse|nobody", false, "unknown user in acme")

	wantUserOrganizations(t, s, ada.ID, []store.Organization{acme, west, east}, "ada")
	wantUserOrganizations(t, s, bob.ID, []store.Organization{acme}, "bob")
	wantUserOrganizations(t, s, "gatehouse|nobody", nil, "unknown user")
	wantMembers(t, s, "org_unknown", nil, "unknown organization")

	must(t, s.RemoveMember(ctx, acme.ID, bob.ID), "remove bob from acme")
	wantMembers(t, s, acme.ID, []string{zed.ID, ada.ID}, "after removing bob")
	wantMember(t, s, acme.ID, bob.ID, false, "bob in acme after removal")
	wantUserOrganizations(t, s, bob.ID, nil, "bob after removal")
	wantErr(t, s.RemoveMember(ctx, acme.ID, bob.ID), store.ErrNotFound, "remove bob twice")
	wantErr(t, s.RemoveMember(ctx, west.ID, bob.ID), store.ErrNotFound, "remove a user who is no member")
	wantErr(t, s.RemoveMember(ctx, "org_unknown", ada.ID), store.ErrNotFound, "remove from an unknown organization")
	wantErr(t, s.RemoveMember(ctx, acme.ID, "gatehouse|nobody"), store.ErrNotFound, "remove an unknown user")
	wantUserOrganizations(t, s, ada.ID, []store.Organization{acme, west, east}, "ada after bob's removal")

	t.Run("unknown organization or user", func(t *testing.T) {
		ctx := t.Context()
		wantErr(t, s.AddMember(ctx, "org_unknown", bob.ID), store.ErrNotFound, "add to an unknown organization")
		wantErr(t, s.AddMember(ctx, acme.ID, "gatehouse|nobody"), store.ErrNotFound, "add an unknown user")
		wantMembers(t, s, "org_unknown", nil, "unknown organization after a refused add")
		wantMembers(t, s, acme.ID, []string{zed.ID, ada.ID}, "acme after a refused add")
		wantUserOrganizations(t, s, bob.ID, nil, "bob after a refused add")
	})
}

// testDeleteOrganizationCascade checks that an organization's members and
// invitations go with it, and only its own.
func testDeleteOrganizationCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada, bob := newUser("gatehouse|ada", "ada@example.com"), newUser("gatehouse|bob", "bob@example.com")
	must(t, s.CreateUser(ctx, ada), "create ada")
	must(t, s.CreateUser(ctx, bob), "create bob")
	acme, globex := newOrganization("org_1", "acme"), newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(ctx, acme), "create acme")
	must(t, s.CreateOrganization(ctx, globex), "create globex")
	for _, m := range []struct{ org, user string }{{acme.ID, ada.ID}, {acme.ID, bob.ID}, {globex.ID, ada.ID}} {
		must(t, s.AddMember(ctx, m.org, m.user), "add member")
	}
	acmeInv, globexInv := newInvitation("inv_1", acme.ID, "eve@example.com"), newInvitation("inv_2", globex.ID, "eve@example.com")
	must(t, s.CreateInvitation(ctx, acmeInv), "create acme invitation")
	must(t, s.CreateInvitation(ctx, globexInv), "create globex invitation")

	must(t, s.DeleteOrganization(ctx, acme.ID), "delete acme")
	_, err := s.GetInvitation(ctx, acmeInv.ID)
	wantErr(t, err, store.ErrNotFound, "get invitation of a deleted organization")
	_, err = s.GetInvitationByTicket(ctx, acmeInv.TicketHash)
	wantErr(t, err, store.ErrNotFound, "get invitation of a deleted organization by ticket")
	_, err = s.AcceptInvitation(ctx, acmeInv.TicketHash, acme.ID, acmeInv.Email, bob.ID, t0)
	wantErr(t, err, store.ErrNotFound, "accept invitation of a deleted organization")
	invs, err := s.ListInvitations(ctx, acme.ID)
	must(t, err, "list invitations of a deleted organization")
	wantEqual(t, invs, nil, "invitations of a deleted organization")
	wantMembers(t, s, acme.ID, nil, "deleted organization")
	wantMember(t, s, acme.ID, ada.ID, false, "ada in a deleted organization")
	wantUserOrganizations(t, s, ada.ID, []store.Organization{globex}, "ada")
	wantUserOrganizations(t, s, bob.ID, nil, "bob")

	// Globex and the users keep everything.
	wantOrganization(t, s, globex, "globex")
	wantMembers(t, s, globex.ID, []string{ada.ID}, "globex")
	wantInvitation(t, s, globexInv, "globex invitation")
	for _, u := range []store.User{ada, bob} {
		got, err := s.GetUser(ctx, u.ID)
		must(t, err, "get user")
		wantEqual(t, got, u, "user after organization delete")
	}

	// Created again, the organization starts with no members, invitations
	// or connections.
	fresh := acme
	fresh.Connections = nil
	must(t, s.CreateOrganization(ctx, fresh), "recreate acme")
	wantOrganization(t, s, fresh, "recreated acme")
	wantMembers(t, s, acme.ID, nil, "recreated acme")
	_, err = s.GetInvitation(ctx, acmeInv.ID)
	wantErr(t, err, store.ErrNotFound, "get invitation of a recreated organization")
}

// testOrgMembersDeleteUser checks that deleting a user ends its memberships
// and that they do not come back with a user created with its ID.
func testOrgMembersDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada, bob := newUser("gatehouse|ada", "ada@example.com"), newUser("gatehouse|bob", "bob@example.com")
	must(t, s.CreateUser(ctx, ada), "create ada")
	must(t, s.CreateUser(ctx, bob), "create bob")
	acme, globex := newOrganization("org_1", "acme"), newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(ctx, acme), "create acme")
	must(t, s.CreateOrganization(ctx, globex), "create globex")
	for _, o := range []store.Organization{acme, globex} {
		for _, u := range []store.User{ada, bob} {
			must(t, s.AddMember(ctx, o.ID, u.ID), "add member")
		}
	}

	must(t, s.DeleteUser(ctx, ada.ID), "delete ada")
	for _, o := range []store.Organization{acme, globex} {
		wantMembers(t, s, o.ID, []string{bob.ID}, "after deleting ada")
		wantMember(t, s, o.ID, ada.ID, false, "deleted ada")
		wantOrganization(t, s, o, "organization after deleting a member")
	}
	wantUserOrganizations(t, s, ada.ID, nil, "deleted ada")
	wantUserOrganizations(t, s, bob.ID, []store.Organization{acme, globex}, "bob")

	must(t, s.CreateUser(ctx, ada), "recreate ada")
	wantUserOrganizations(t, s, ada.ID, nil, "recreated ada")
	wantMember(t, s, acme.ID, ada.ID, false, "recreated ada")
}

func testInvitations(t *testing.T, s store.Store) {
	ctx := t.Context()
	acme, globex := newOrganization("org_1", "acme"), newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(ctx, acme), "create acme")
	must(t, s.CreateOrganization(ctx, globex), "create globex")

	// The clients are not registered: invitations do not check client IDs.
	inv1 := newInvitation("inv_b", acme.ID, "ada@example.com")
	// Created earlier: listed first whatever its ID.
	inv2 := newInvitation("inv_c", acme.ID, "bob@example.com")
	inv2.CreatedAt, inv2.Connection = t0.Add(-time.Hour).In(elsewhere), ""
	// Created at the same time as inv1: listed by ID, in byte order.
	inv3 := newInvitation("inv_A", acme.ID, "eve@example.com")
	// Used and revoked round-trip too.
	used := t0.Add(time.Minute).In(elsewhere)
	spent := newInvitation("inv_d", acme.ID, "zed@example.com")
	spent.UsedAt, spent.UsedBy, spent.Revoked = &used, "gatehouse|zed", true
	other := newInvitation("inv_e", globex.ID, "ada@example.com")

	_, err := s.GetInvitation(ctx, inv1.ID)
	wantErr(t, err, store.ErrNotFound, "get invitation before create")
	_, err = s.GetInvitationByTicket(ctx, inv1.TicketHash)
	wantErr(t, err, store.ErrNotFound, "get invitation by ticket before create")

	for _, inv := range []store.Invitation{inv1, inv2, inv3, spent, other} {
		must(t, s.CreateInvitation(ctx, inv), "create invitation "+inv.ID)
		wantInvitation(t, s, inv, "created")
	}

	dupID := newInvitation(inv1.ID, globex.ID, "impostor@example.com")
	wantErr(t, s.CreateInvitation(ctx, dupID), store.ErrConflict, "create invitation with taken id")
	dupTicket := newInvitation("inv_impostor", globex.ID, "impostor@example.com")
	dupTicket.TicketHash = inv1.TicketHash
	wantErr(t, s.CreateInvitation(ctx, dupTicket), store.ErrConflict, "create invitation with taken ticket")
	_, err = s.GetInvitation(ctx, dupTicket.ID)
	wantErr(t, err, store.ErrNotFound, "get invitation of a refused create")
	wantInvitation(t, s, inv1, "after conflicting creates")

	orphan := newInvitation("inv_orphan", "org_unknown", "ada@example.com")
	wantErr(t, s.CreateInvitation(ctx, orphan), store.ErrNotFound, "create invitation of an unknown organization")
	_, err = s.GetInvitation(ctx, orphan.ID)
	wantErr(t, err, store.ErrNotFound, "get invitation of an unknown organization")

	list, err := s.ListInvitations(ctx, acme.ID)
	must(t, err, "list acme invitations")
	wantEqual(t, list, []store.Invitation{inv2, inv3, inv1, spent}, "acme invitations")
	list, err = s.ListInvitations(ctx, globex.ID)
	must(t, err, "list globex invitations")
	wantEqual(t, list, []store.Invitation{other}, "globex invitations")
	list, err = s.ListInvitations(ctx, "org_unknown")
	must(t, err, "list invitations of an unknown organization")
	wantEqual(t, list, nil, "invitations of an unknown organization")

	must(t, s.RevokeInvitation(ctx, inv1.ID), "revoke invitation")
	revoked := inv1
	revoked.Revoked = true
	wantInvitation(t, s, revoked, "revoked")
	must(t, s.RevokeInvitation(ctx, inv1.ID), "revoke invitation twice")
	must(t, s.RevokeInvitation(ctx, spent.ID), "revoke a used, revoked invitation")
	wantInvitation(t, s, revoked, "revoked twice")
	wantInvitation(t, s, spent, "spent invitation revoked again")
	wantErr(t, s.RevokeInvitation(ctx, "inv_unknown"), store.ErrNotFound, "revoke unknown invitation")
	wantInvitation(t, s, inv3, "invitation beside a revoked one")

	t.Run("DeleteClient", func(t *testing.T) {
		// An invitation outlives its client: it fails when its link is
		// followed, not in the store.
		ctx := t.Context()
		must(t, s.CreateClient(ctx, newClient(inv3.ClientID)), "create client")
		must(t, s.DeleteClient(ctx, inv3.ClientID), "delete client")
		wantInvitation(t, s, inv3, "invitation of a deleted client")
	})
}

func testAcceptInvitation(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada, bob := newUser("gatehouse|ada", "ada@example.com"), newUser("gatehouse|bob", "bob@example.com")
	must(t, s.CreateUser(ctx, ada), "create ada")
	must(t, s.CreateUser(ctx, bob), "create bob")
	acme, globex := newOrganization("org_1", "acme"), newOrganization("org_2", "globex")
	must(t, s.CreateOrganization(ctx, acme), "create acme")
	must(t, s.CreateOrganization(ctx, globex), "create globex")
	now := t0.Add(time.Hour)

	// accepted returns inv as AcceptInvitation leaves it.
	accepted := func(inv store.Invitation, userID string, at time.Time) store.Invitation {
		at = at.UTC()
		inv.UsedAt, inv.UsedBy = &at, userID
		return inv
	}

	inv := newInvitation("inv_1", acme.ID, "bob@example.com")
	must(t, s.CreateInvitation(ctx, inv), "create invitation")
	// The email matches whatever its case.
	got, err := s.AcceptInvitation(ctx, inv.TicketHash, acme.ID, "Bob@Example.com", bob.ID, now.In(elsewhere))
	must(t, err, "accept invitation")
	want := accepted(inv, bob.ID, now)
	wantEqual(t, got, want, "accepted invitation")
	wantInvitation(t, s, want, "accepted invitation")
	wantMembers(t, s, acme.ID, []string{bob.ID}, "after accepting")
	wantUserOrganizations(t, s, bob.ID, []store.Organization{acme}, "bob after accepting")

	_, err = s.AcceptInvitation(ctx, inv.TicketHash, acme.ID, inv.Email, bob.ID, now.Add(time.Minute))
	wantErr(t, err, store.ErrAlreadyUsed, "accept invitation twice")
	_, err = s.AcceptInvitation(ctx, inv.TicketHash, acme.ID, inv.Email, ada.ID, now.Add(time.Minute))
	wantErr(t, err, store.ErrAlreadyUsed, "accept a used invitation as another user")
	wantInvitation(t, s, want, "invitation after accepting again")
	wantMembers(t, s, acme.ID, []string{bob.ID}, "after accepting again")

	t.Run("already a member", func(t *testing.T) {
		ctx := t.Context()
		inv := newInvitation("inv_member", acme.ID, "bob@example.com")
		must(t, s.CreateInvitation(ctx, inv), "create invitation")
		got, err := s.AcceptInvitation(ctx, inv.TicketHash, acme.ID, inv.Email, bob.ID, now)
		must(t, err, "accept invitation as a member")
		wantEqual(t, got, accepted(inv, bob.ID, now), "invitation accepted by a member")
		wantMembers(t, s, acme.ID, []string{bob.ID}, "after a member accepted")
	})

	t.Run("expiry", func(t *testing.T) {
		ctx := t.Context()
		inv := newInvitation("inv_expiry", globex.ID, "ada@example.com")
		must(t, s.CreateInvitation(ctx, inv), "create invitation")
		for _, at := range []time.Time{inv.ExpiresAt, inv.ExpiresAt.Add(time.Second)} {
			_, err := s.AcceptInvitation(ctx, inv.TicketHash, globex.ID, inv.Email, ada.ID, at)
			wantErr(t, err, store.ErrExpired, "accept invitation at "+at.String())
		}
		wantInvitation(t, s, inv, "invitation after expiry")
		wantMember(t, s, globex.ID, ada.ID, false, "ada after an expired invitation")
		// Refusing it late did not use it up: a millisecond before its
		// expiry it is still good.
		at := inv.ExpiresAt.Add(-time.Millisecond)
		got, err := s.AcceptInvitation(ctx, inv.TicketHash, globex.ID, inv.Email, ada.ID, at)
		must(t, err, "accept invitation just before its expiry")
		wantEqual(t, got, accepted(inv, ada.ID, at), "invitation accepted just before its expiry")
		wantMember(t, s, globex.ID, ada.ID, true, "ada after accepting")
		must(t, s.RemoveMember(ctx, globex.ID, ada.ID), "remove ada")
	})

	// Each refusal leaves the invitation as it was and adds no member. The
	// checks run in a fixed order, so an invitation with several faults
	// reports the first: revoked, used, expired, then the mismatches.
	usedAt := t0.Add(time.Minute).In(elsewhere)
	refusals := []struct {
		name   string
		inv    func(inv *store.Invitation)
		ticket string // "" for the invitation's
		orgID  string
		email  string
		userID string
		want   error
	}{
		{"unknown ticket", nil, "ticket-hash-unknown", acme.ID, "ada@example.com", ada.ID, store.ErrNotFound},
		{"revoked", func(inv *store.Invitation) { inv.Revoked = true }, "", acme.ID, "ada@example.com", ada.ID, store.ErrRevoked},
		{"other organization", nil, "", globex.ID, "ada@example.com", ada.ID, store.ErrMismatch},
		{"unknown organization", nil, "", "org_unknown", "ada@example.com", ada.ID, store.ErrMismatch},
		{"other email", nil, "", acme.ID, "bob@example.com", ada.ID, store.ErrMismatch},
		{"empty email", nil, "", acme.ID, "", ada.ID, store.ErrMismatch},
		{"revoked, used, expired, mismatched", func(inv *store.Invitation) {
			inv.Revoked, inv.UsedAt, inv.UsedBy, inv.ExpiresAt = true, &usedAt, bob.ID, t0.In(elsewhere)
		}, "", globex.ID, "bob@example.com", ada.ID, store.ErrRevoked},
		{"used, expired, mismatched", func(inv *store.Invitation) {
			inv.UsedAt, inv.UsedBy, inv.ExpiresAt = &usedAt, bob.ID, t0.In(elsewhere)
		}, "", globex.ID, "bob@example.com", ada.ID, store.ErrAlreadyUsed},
		{"expired, mismatched", func(inv *store.Invitation) {
			inv.ExpiresAt = t0.In(elsewhere)
		}, "", globex.ID, "bob@example.com", ada.ID, store.ErrExpired},
	}
	for i, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			inv := newInvitation(fmt.Sprintf("inv_refused_%02d", i), acme.ID, "ada@example.com")
			if tc.inv != nil {
				tc.inv(&inv)
			}
			must(t, s.CreateInvitation(ctx, inv), "create invitation")
			ticket := tc.ticket
			if ticket == "" {
				ticket = inv.TicketHash
			}
			_, err := s.AcceptInvitation(ctx, ticket, tc.orgID, tc.email, tc.userID, now)
			wantErr(t, err, tc.want, "accept invitation")
			wantInvitation(t, s, inv, "invitation after a refused accept")
			wantUserOrganizations(t, s, ada.ID, nil, "ada after a refused accept")
		})
	}

	t.Run("unknown user", func(t *testing.T) {
		ctx := t.Context()
		inv := newInvitation("inv_nobody", acme.ID, "nobody@example.com")
		must(t, s.CreateInvitation(ctx, inv), "create invitation")
		if _, err := s.AcceptInvitation(ctx, inv.TicketHash, acme.ID, inv.Email, "gatehouse|nobody", now); err == nil {
			t.Fatal("accept invitation as an unknown user: got no error")
		}
		wantInvitation(t, s, inv, "invitation after a refused accept")
		wantMembers(t, s, acme.ID, []string{bob.ID}, "after a refused accept")
	})
}
