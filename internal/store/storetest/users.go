package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

func testClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	c1 := newClient("client-1")
	c2 := newClient("client-2")
	c2.Callbacks, c2.LogoutURLs, c2.GrantTypes = nil, []string{}, []string{"authorization_code"}
	c2.FirstParty, c2.AllowOfflineAccess = false, false
	c2.IDTokenTTL, c2.AccessTokenTTL, c2.Refresh = 0, 0, store.RefreshPolicy{}

	_, err := s.GetClient(ctx, c1.ID)
	wantErr(t, err, store.ErrNotFound, "get client before create")
	list, err := s.ListClients(ctx)
	must(t, err, "list clients of empty store")
	if len(list) != 0 {
		t.Fatalf("list clients of empty store: got %d clients", len(list))
	}

	must(t, s.CreateClient(ctx, c1), "create client-1")
	must(t, s.CreateClient(ctx, c2), "create client-2")
	got, err := s.GetClient(ctx, c1.ID)
	must(t, err, "get client-1")
	wantEqual(t, got, c1, "get client-1")

	dup := newClient(c1.ID)
	dup.Name = "Impostor"
	wantErr(t, s.CreateClient(ctx, dup), store.ErrConflict, "create client with taken id")
	got, err = s.GetClient(ctx, c1.ID)
	must(t, err, "get client-1 after conflict")
	wantEqual(t, got, c1, "client-1 after conflicting create")

	list, err = s.ListClients(ctx)
	must(t, err, "list clients")
	slices.SortFunc(list, func(a, b store.Client) int { return cmp.Compare(a.ID, b.ID) })
	wantEqual(t, list, []store.Client{c1, c2}, "list clients")

	must(t, s.DeleteClient(ctx, c1.ID), "delete client-1")
	_, err = s.GetClient(ctx, c1.ID)
	wantErr(t, err, store.ErrNotFound, "get deleted client")
	wantErr(t, s.DeleteClient(ctx, c1.ID), store.ErrNotFound, "delete client twice")
	wantErr(t, s.DeleteClient(ctx, "no-such-client"), store.ErrNotFound, "delete unknown client")
	list, err = s.ListClients(ctx)
	must(t, err, "list clients after delete")
	wantEqual(t, list, []store.Client{c2}, "list clients after delete")

	// A deleted id is free again.
	must(t, s.CreateClient(ctx, c1), "recreate client-1")
}

func testUpdateClient(t *testing.T, s store.Store) {
	ctx := t.Context()
	c1, c2 := newClient("client-1"), newClient("client-2")
	must(t, s.CreateClient(ctx, c1), "create client-1")
	must(t, s.CreateClient(ctx, c2), "create client-2")

	tests := []struct {
		name string
		upd  store.Client
	}{
		{"every field", store.Client{
			ID:                 c1.ID,
			SecretHash:         "sha256:rotated",
			Name:               "Renamed",
			Type:               "spa",
			Callbacks:          []string{"https://new.example/cb"},
			LogoutURLs:         nil,
			GrantTypes:         []string{"authorization_code"},
			FirstParty:         false,
			AllowOfflineAccess: false,
			IDTokenTTL:         time.Hour,
			AccessTokenTTL:     2*time.Hour + 250*time.Millisecond,
			Refresh: store.RefreshPolicy{
				NoRotation: false,
				Overlap:    time.Minute,
				Idle:       24 * time.Hour,
				Absolute:   30 * 24 * time.Hour,
			},
			OrganizationUsage:    store.OrgUsageAllow,
			OrganizationBehavior: store.OrgBehaviorPostLoginPrompt,
			InitiateLoginURI:     "https://new.example/login",
			MFAPolicy:            "optional",
			CreatedAt:            t0.Add(time.Hour), // must be ignored
		}},
		{"back to the defaults", store.Client{
			ID:        c1.ID,
			Name:      "Defaults",
			CreatedAt: t0.Add(2 * time.Hour), // must be ignored
		}},
		{"rotation off", func() store.Client {
			c := newClient(c1.ID)
			c.Refresh = store.RefreshPolicy{NoRotation: true, Absolute: 7 * 24 * time.Hour}
			return c
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			must(t, s.UpdateClient(ctx, tc.upd), "update client-1")
			want := tc.upd
			want.CreatedAt = c1.CreatedAt
			got, err := s.GetClient(ctx, c1.ID)
			must(t, err, "get updated client-1")
			wantEqual(t, got, want, "updated client-1")
			got, err = s.GetClient(ctx, c2.ID)
			must(t, err, "get client-2")
			wantEqual(t, got, c2, "client-2 after update of client-1")
		})
	}

	t.Run("unknown client", func(t *testing.T) {
		wantErr(t, s.UpdateClient(t.Context(), newClient("no-such-client")), store.ErrNotFound, "update unknown client")
		_, err := s.GetClient(t.Context(), "no-such-client")
		wantErr(t, err, store.ErrNotFound, "update must not create")
	})
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := newUser("gatehouse|ada", "ada@example.com")
	ada.Identities = append(ada.Identities, store.Identity{Connection: "github", Provider: "github", UserID: "1815"})

	_, err := s.GetUser(ctx, ada.ID)
	wantErr(t, err, store.ErrNotFound, "get user before create")
	must(t, s.CreateUser(ctx, ada), "create ada")

	got, err := s.GetUser(ctx, ada.ID)
	must(t, err, "get ada")
	wantEqual(t, got, ada, "get ada")
	got, err = s.GetUserByEmail(ctx, ada.Connection, ada.Email)
	must(t, err, "get ada by email")
	wantEqual(t, got, ada, "get ada by email")

	for _, tc := range []struct {
		name              string
		connection, email string
	}{
		{"other connection", "github", ada.Email},
		{"unknown email", ada.Connection, "nobody@example.com"},
		{"empty email", ada.Connection, ""},
	} {
		t.Run("GetUserByEmail/"+tc.name, func(t *testing.T) {
			_, err := s.GetUserByEmail(t.Context(), tc.connection, tc.email)
			wantErr(t, err, store.ErrNotFound, "get user by email")
		})
	}

	conflicts := []struct {
		name string
		user store.User
	}{
		{"taken id", newUser(ada.ID, "other@example.com")},
		{"taken email in connection", newUser("gatehouse|ada2", ada.Email)},
		{"taken identity", func() store.User {
			u := newUser("gatehouse|thief", "thief@example.com")
			u.Identities = append(u.Identities, store.Identity{Connection: "github", Provider: "github", UserID: "1815"})
			return u
		}()},
	}
	for _, tc := range conflicts {
		t.Run("CreateUser/"+tc.name, func(t *testing.T) {
			ctx := t.Context()
			wantErr(t, s.CreateUser(ctx, tc.user), store.ErrConflict, "create user")
			if tc.user.ID != ada.ID {
				// Nothing of a refused user may stay behind.
				_, err := s.GetUser(ctx, tc.user.ID)
				wantErr(t, err, store.ErrNotFound, "get refused user")
			}
			got, err := s.GetUser(ctx, ada.ID)
			must(t, err, "get ada after conflict")
			wantEqual(t, got, ada, "ada after conflicting create")
		})
	}
	// The refused "thief" did not keep its database identity either.
	must(t, s.CreateUser(ctx, newUser("gatehouse|thief", "thief@example.com")), "create user with identity of a refused user")

	// The same email in another connection is a different user.
	social := newUser("github|42", ada.Email)
	social.Connection = "github"
	social.PasswordHash = ""
	social.Identities = []store.Identity{{Connection: "github", Provider: "github", UserID: "42"}}
	social.AppMetadata, social.UserMetadata = nil, map[string]any{}
	must(t, s.CreateUser(ctx, social), "create same email in another connection")
	got, err = s.GetUserByEmail(ctx, "github", ada.Email)
	must(t, err, "get social user by email")
	wantEqual(t, got, social, "get social user by email")

	// Users without an email never conflict with each other.
	noEmail1 := newUser("github|43", "")
	noEmail1.Connection = "github"
	noEmail1.Identities = []store.Identity{{Connection: "github", Provider: "github", UserID: "43"}}
	noEmail2 := newUser("github|44", "")
	noEmail2.Connection = "github"
	noEmail2.Identities = nil
	must(t, s.CreateUser(ctx, noEmail1), "create first user without email")
	must(t, s.CreateUser(ctx, noEmail2), "create second user without email")
	_, err = s.GetUserByEmail(ctx, "github", "")
	wantErr(t, err, store.ErrNotFound, "get user by empty email in a connection with email-less users")

	list, err := s.ListUsers(ctx)
	must(t, err, "list users")
	slices.SortFunc(list, func(a, b store.User) int { return cmp.Compare(a.ID, b.ID) })
	wantEqual(t, list, []store.User{ada, newUser("gatehouse|thief", "thief@example.com"), social, noEmail1, noEmail2}, "list users")
}

func testUpdateUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := newUser("gatehouse|ada", "ada@example.com")
	bob := newUser("gatehouse|bob", "bob@example.com")
	must(t, s.CreateUser(ctx, ada), "create ada")
	must(t, s.CreateUser(ctx, bob), "create bob")

	upd := store.User{
		ID:            ada.ID,
		Connection:    "github",
		Email:         "countess@example.com",
		EmailVerified: false,
		PasswordHash:  "",
		Name:          "Augusta Ada King",
		Nickname:      "countess",
		Picture:       "",
		GivenName:     "Augusta",
		FamilyName:    "King",
		Blocked:       false,
		LoginsCount:   10,
		LastLogin:     t0.In(elsewhere),
		AppMetadata:   map[string]any{"plan": "free"},
		UserMetadata:  nil,
		Identities: []store.Identity{
			{Connection: "github", Provider: "github", UserID: "1815"},
			{Connection: "google-oauth2", Provider: "google-oauth2", UserID: "1852"},
		},
		CreatedAt: t0.Add(time.Hour), // must be ignored
		UpdatedAt: t0.In(elsewhere),
	}
	must(t, s.UpdateUser(ctx, upd), "update ada")
	want := upd
	want.CreatedAt = ada.CreatedAt
	got, err := s.GetUser(ctx, ada.ID)
	must(t, err, "get updated ada")
	wantEqual(t, got, want, "updated ada")

	_, err = s.GetUserByEmail(ctx, ada.Connection, ada.Email)
	wantErr(t, err, store.ErrNotFound, "get user by old email")
	got, err = s.GetUserByEmail(ctx, "github", "countess@example.com")
	must(t, err, "get user by new email")
	wantEqual(t, got, want, "get user by new email")

	// Ada's old email and identity are free for a new user.
	must(t, s.CreateUser(ctx, newUser("gatehouse|ada-again", ada.Email)), "create user with ada's old email")
	must(t, s.UpdateUser(ctx, func() store.User {
		u := newUser("gatehouse|ada-again", ada.Email)
		u.Identities = ada.Identities
		return u
	}()), "take ada's old identity")

	t.Run("taken email", func(t *testing.T) {
		u := bob
		u.Email = "countess@example.com"
		u.Connection = "github"
		wantErr(t, s.UpdateUser(t.Context(), u), store.ErrConflict, "update bob to ada's email")
		got, err := s.GetUser(t.Context(), bob.ID)
		must(t, err, "get bob")
		wantEqual(t, got, bob, "bob after refused update")
	})
	t.Run("taken identity", func(t *testing.T) {
		u := bob
		u.Identities = append(u.Identities, store.Identity{Connection: "github", Provider: "github", UserID: "1815"})
		wantErr(t, s.UpdateUser(t.Context(), u), store.ErrConflict, "update bob to ada's identity")
		got, err := s.GetUser(t.Context(), bob.ID)
		must(t, err, "get bob")
		wantEqual(t, got, bob, "bob after refused update")
	})
	t.Run("unknown user", func(t *testing.T) {
		wantErr(t, s.UpdateUser(t.Context(), newUser("gatehouse|nobody", "nobody@example.com")), store.ErrNotFound, "update unknown user")
		_, err := s.GetUser(t.Context(), "gatehouse|nobody")
		wantErr(t, err, store.ErrNotFound, "update must not create")
	})
}

func testRecordLogin(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := newUser("gatehouse|ada", "ada@example.com")
	ada.LoginsCount, ada.LastLogin = 0, time.Time{}
	must(t, s.CreateUser(ctx, ada), "create ada")
	got, err := s.GetUser(ctx, ada.ID)
	must(t, err, "get ada")
	if !got.LastLogin.IsZero() {
		t.Fatalf("LastLogin of a user who never logged in = %v, want zero", got.LastLogin)
	}

	must(t, s.RecordLogin(ctx, ada.ID, t0.In(elsewhere)), "record first login")
	must(t, s.RecordLogin(ctx, ada.ID, t0.Add(time.Hour).In(elsewhere)), "record second login")
	got, err = s.GetUser(ctx, ada.ID)
	must(t, err, "get ada")
	want := ada
	want.LoginsCount, want.LastLogin = 2, t0.Add(time.Hour)
	wantEqual(t, got, want, "ada after two logins")

	wantErr(t, s.RecordLogin(ctx, "gatehouse|nobody", t0), store.ErrNotFound, "record login of unknown user")
}

// issued is a user with one of each record the store issues to users.
type issued struct {
	user    store.User
	session store.Session
	grant   store.Grant
	code    store.AuthCode
	access  store.AccessToken
	refresh store.RefreshToken
}

// issueUser creates the user with a session, a consent grant to client-1, a
// code, an access token and a refresh token, all live at t0.
func issueUser(t *testing.T, s store.Store, u store.User) issued {
	t.Helper()
	ctx := t.Context()
	in := issued{
		user:    u,
		session: newSession("session-"+u.ID, u.ID),
		grant:   newGrant(u.ID, "client-1", "", "openid"),
		code:    newCode("code-"+u.ID, "grant-"+u.ID, u.ID),
		access:  newAccessToken("at-"+u.ID, "grant-"+u.ID, u.ID),
		refresh: newRefreshToken("rt-"+u.ID, "grant-"+u.ID, u.ID),
	}
	must(t, s.CreateUser(ctx, in.user), "create user "+u.ID)
	must(t, s.CreateSession(ctx, in.session), "create session")
	must(t, s.UpsertGrant(ctx, in.grant), "upsert grant")
	issueCode(t, s, in.code)
	must(t, s.CreateAccessToken(ctx, in.access), "create access token")
	must(t, s.CreateRefreshToken(ctx, in.refresh), "create refresh token")
	return in
}

// wantIssuedGone fails unless every record issued to the user is gone.
func wantIssuedGone(t *testing.T, s store.Store, in issued, op string) {
	t.Helper()
	ctx := t.Context()
	_, err := s.GetSession(ctx, in.session.ID, t0)
	wantErr(t, err, store.ErrNotFound, op+": get session")
	_, err = s.GetGrant(ctx, in.user.ID, in.grant.ClientID, in.grant.Audience)
	wantErr(t, err, store.ErrNotFound, op+": get grant")
	_, err = s.RedeemCode(ctx, in.code.ID, t0, store.Issued{})
	wantErr(t, err, store.ErrNotFound, op+": redeem code")
	_, err = s.GetAccessToken(ctx, in.access.ID, t0)
	wantErr(t, err, store.ErrNotFound, op+": get access token")
	_, err = s.GetRefreshToken(ctx, in.refresh.ID)
	wantErr(t, err, store.ErrNotFound, op+": get refresh token")
	_, err = s.RotateRefreshToken(ctx, in.refresh.ID, newRefreshToken(in.refresh.ID+"-next", in.refresh.FamilyID, in.user.ID), t0, 0, nil)
	wantErr(t, err, store.ErrNotFound, op+": rotate refresh token")
}

// wantIssuedKept fails unless every record issued to the user is stored as
// issued. It redeems the code, so it can check a user once.
func wantIssuedKept(t *testing.T, s store.Store, in issued, op string) {
	t.Helper()
	ctx := t.Context()
	sess, err := s.GetSession(ctx, in.session.ID, t0)
	must(t, err, op+": get session")
	wantEqual(t, sess, in.session, op+": session")
	g, err := s.GetGrant(ctx, in.user.ID, in.grant.ClientID, in.grant.Audience)
	must(t, err, op+": get grant")
	wantEqual(t, g, in.grant, op+": grant")
	wantLiveAccessToken(t, s, in.access)
	wantRefreshRevoked(t, s, in.refresh.ID, false)
	code, err := s.RedeemCode(ctx, in.code.ID, t0, store.Issued{})
	must(t, err, op+": redeem code")
	wantEqual(t, code, in.code, op+": code")
}

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := issueUser(t, s, newUser("gatehouse|ada", "ada@example.com"))
	bob := issueUser(t, s, newUser("gatehouse|bob", "bob@example.com"))

	must(t, s.DeleteUser(ctx, ada.user.ID), "delete ada")

	_, err := s.GetUser(ctx, ada.user.ID)
	wantErr(t, err, store.ErrNotFound, "get deleted user")
	_, err = s.GetUserByEmail(ctx, ada.user.Connection, ada.user.Email)
	wantErr(t, err, store.ErrNotFound, "get deleted user by email")
	wantIssuedGone(t, s, ada, "deleted ada")
	list, err := s.ListUsers(ctx)
	must(t, err, "list users")
	wantEqual(t, list, []store.User{bob.user}, "users after delete")

	// Bob keeps everything.
	got, err := s.GetUser(ctx, bob.user.ID)
	must(t, err, "get bob")
	wantEqual(t, got, bob.user, "bob")
	wantIssuedKept(t, s, bob, "bob")

	// Ada's email and identity are free again.
	must(t, s.CreateUser(ctx, ada.user), "recreate ada")

	wantErr(t, s.DeleteUser(ctx, "gatehouse|nobody"), store.ErrNotFound, "delete unknown user")
}

func testGetUserByIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := newUser("gatehouse|ada", "ada@example.com")
	ada.Identities = append(ada.Identities,
		store.Identity{Connection: "github", Provider: "github", UserID: "1815"},
		// The connection's name differs from its provider's.
		store.Identity{Connection: "corp-oidc", Provider: "oidc", UserID: "ada@corp"})
	bob := newUser("gatehouse|bob", "bob@example.com")
	must(t, s.CreateUser(ctx, ada), "create ada")
	must(t, s.CreateUser(ctx, bob), "create bob")

	for _, id := range ada.Identities {
		got, err := s.GetUserByIdentity(ctx, id.Connection, id.UserID)
		must(t, err, "get ada by identity at "+id.Connection)
		wantEqual(t, got, ada, "ada by identity at "+id.Connection)
	}
	got, err := s.GetUserByIdentity(ctx, bob.Identities[0].Connection, bob.Identities[0].UserID)
	must(t, err, "get bob by identity")
	wantEqual(t, got, bob, "bob by identity")

	for _, tc := range []struct {
		name, connection, userID string
	}{
		{"unknown user id", "github", "1816"},
		{"user id of another connection", "google-oauth2", "1815"},
		{"provider instead of connection", "oidc", "ada@corp"},
		{"user id of another identity", "github", "ada@corp"},
		{"empty user id", "github", ""},
		{"unknown connection", "no-such-connection", "1815"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.GetUserByIdentity(t.Context(), tc.connection, tc.userID)
			wantErr(t, err, store.ErrNotFound, "get user by identity")
		})
	}

	// An identity removed by UpdateUser, or gone with its user, finds nobody.
	upd := ada
	upd.Identities = ada.Identities[:1]
	must(t, s.UpdateUser(ctx, upd), "drop ada's upstream identities")
	_, err = s.GetUserByIdentity(ctx, "github", "1815")
	wantErr(t, err, store.ErrNotFound, "get user by removed identity")
	got, err = s.GetUserByIdentity(ctx, ada.Identities[0].Connection, ada.Identities[0].UserID)
	must(t, err, "get ada by remaining identity")
	wantEqual(t, got, upd, "ada by remaining identity")

	must(t, s.DeleteUser(ctx, bob.ID), "delete bob")
	_, err = s.GetUserByIdentity(ctx, bob.Identities[0].Connection, bob.Identities[0].UserID)
	wantErr(t, err, store.ErrNotFound, "get deleted user by identity")
}
