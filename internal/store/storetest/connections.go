package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// ownConnections lists the connections, leaving out the built-in one, which
// testBuiltInConnection checks, sorted by name.
func ownConnections(t *testing.T, s store.Store) []store.Connection {
	t.Helper()
	list, err := s.ListConnections(t.Context())
	must(t, err, "list connections")
	list = slices.DeleteFunc(list, func(c store.Connection) bool { return c.Name == store.DefaultDatabaseConnection })
	slices.SortFunc(list, func(a, b store.Connection) int { return cmp.Compare(a.Name, b.Name) })
	return list
}

// wantEnabled fails unless the connection is enabled for exactly clientIDs,
// in that order.
func wantEnabled(t *testing.T, s store.Store, name string, clientIDs []string, op string) {
	t.Helper()
	c, err := s.GetConnection(t.Context(), name)
	must(t, err, op+": get connection "+name)
	wantEqual(t, c.EnabledClients, clientIDs, op+": clients of "+name)
}

func testConnections(t *testing.T, s store.Store) {
	ctx := t.Context()
	c1 := newConnection("corp-oidc")
	c2 := store.Connection{
		Name:               "github",
		Strategy:           store.StrategyGitHub,
		ClientSecretSealed: []byte{},
		Scopes:             nil,
		ClaimMapping:       map[string]string{},
		EnabledClients:     nil,
		CreatedAt:          t0.In(elsewhere),
		UpdatedAt:          t0.In(elsewhere),
	}

	_, err := s.GetConnection(ctx, c1.Name)
	wantErr(t, err, store.ErrNotFound, "get connection before create")

	must(t, s.CreateConnection(ctx, c1), "create connection 1")
	must(t, s.CreateConnection(ctx, c2), "create connection 2")
	got, err := s.GetConnection(ctx, c1.Name)
	must(t, err, "get connection 1")
	wantEqual(t, got, c1, "get connection 1")
	got, err = s.GetConnection(ctx, c2.Name)
	must(t, err, "get connection 2")
	wantEqual(t, got, c2, "get connection 2")

	dup := newConnection(c1.Name)
	dup.Strategy, dup.EnabledClients = store.StrategyOAuth2, []string{"client-impostor"}
	wantErr(t, s.CreateConnection(ctx, dup), store.ErrConflict, "create connection with taken name")
	got, err = s.GetConnection(ctx, c1.Name)
	must(t, err, "get connection 1 after conflict")
	wantEqual(t, got, c1, "connection 1 after conflicting create")

	wantEqual(t, ownConnections(t, s), []store.Connection{c1, c2}, "list connections")

	must(t, s.DeleteConnection(ctx, c1.Name), "delete connection 1")
	_, err = s.GetConnection(ctx, c1.Name)
	wantErr(t, err, store.ErrNotFound, "get deleted connection")
	wantErr(t, s.DeleteConnection(ctx, c1.Name), store.ErrNotFound, "delete connection twice")
	wantErr(t, s.DeleteConnection(ctx, "no-such-connection"), store.ErrNotFound, "delete unknown connection")
	wantEqual(t, ownConnections(t, s), []store.Connection{c2}, "list connections after delete")

	// A deleted name is free again, and its clients went with it.
	again := c1
	again.EnabledClients = nil
	must(t, s.CreateConnection(ctx, again), "recreate connection 1")
	got, err = s.GetConnection(ctx, c1.Name)
	must(t, err, "get recreated connection 1")
	wantEqual(t, got, again, "recreated connection 1")
}

func testUpdateConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	c1, c2 := newConnection("corp-oidc"), newConnection("partner-oidc")
	must(t, s.CreateConnection(ctx, c1), "create connection 1")
	must(t, s.CreateConnection(ctx, c2), "create connection 2")

	tests := []struct {
		name string
		upd  store.Connection
		// enabled is the EnabledClients read back: sorted, without duplicates.
		enabled []string
	}{
		{"every field", store.Connection{
			Name:               c1.Name,
			Strategy:           store.StrategyOAuth2,
			ClientID:           "rotated-client",
			ClientSecretSealed: []byte("rotated\x00"),
			Issuer:             "",
			AuthorizeURL:       "https://oauth.example/authorize?tenant=1",
			TokenURL:           "https://oauth.example/token",
			UserinfoURL:        "https://oauth.example/me",
			BaseURL:            "",
			APIURL:             "",
			Scopes:             []string{"read:user"},
			ClaimMapping:       map[string]string{"sub": "id"},
			EnabledClients:     []string{"client-9", "client-3", "client-9"},
			CreatedAt:          t0.Add(time.Hour), // must be ignored
			UpdatedAt:          t0.Add(time.Hour).In(elsewhere),
		}, []string{"client-3", "client-9"}},
		{"back to the defaults", store.Connection{
			Name:      c1.Name,
			Strategy:  store.StrategyDatabase,
			CreatedAt: t0.Add(2 * time.Hour), // must be ignored
		}, nil},
		{"every field again", newConnection(c1.Name), c1.EnabledClients},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			must(t, s.UpdateConnection(ctx, tc.upd), "update connection 1")
			want := tc.upd
			want.CreatedAt, want.EnabledClients = c1.CreatedAt, tc.enabled
			got, err := s.GetConnection(ctx, c1.Name)
			must(t, err, "get updated connection 1")
			wantEqual(t, got, want, "updated connection 1")
			got, err = s.GetConnection(ctx, c2.Name)
			must(t, err, "get connection 2")
			wantEqual(t, got, c2, "connection 2 after update of connection 1")
		})
	}

	t.Run("unknown connection", func(t *testing.T) {
		wantErr(t, s.UpdateConnection(t.Context(), newConnection("no-such-connection")), store.ErrNotFound, "update unknown connection")
		_, err := s.GetConnection(t.Context(), "no-such-connection")
		wantErr(t, err, store.ErrNotFound, "update must not create")
	})
}

func testSetConnectionEnabled(t *testing.T, s store.Store) {
	ctx := t.Context()
	conn := newConnection("corp-oidc")
	conn.EnabledClients = nil
	other := newConnection("github")
	other.EnabledClients = []string{"client-a"}
	must(t, s.CreateConnection(ctx, conn), "create connection")
	must(t, s.CreateConnection(ctx, other), "create other connection")

	// Byte order puts upper case first. The clients are not registered:
	// SetConnectionEnabled does not check client IDs.
	for _, id := range []string{"client-b", "Client-C", "client-a"} {
		must(t, s.SetConnectionEnabled(ctx, conn.Name, id, true), "enable "+id)
	}
	wantEnabled(t, s, conn.Name, []string{"Client-C", "client-a", "client-b"}, "after enabling three clients")

	must(t, s.SetConnectionEnabled(ctx, conn.Name, "client-a", true), "enable client-a twice")
	wantEnabled(t, s, conn.Name, []string{"Client-C", "client-a", "client-b"}, "after enabling twice")

	must(t, s.SetConnectionEnabled(ctx, conn.Name, "client-a", false), "disable client-a")
	wantEnabled(t, s, conn.Name, []string{"Client-C", "client-b"}, "after disabling client-a")
	must(t, s.SetConnectionEnabled(ctx, conn.Name, "client-a", false), "disable client-a twice")
	must(t, s.SetConnectionEnabled(ctx, conn.Name, "client-never", false), "disable a client never enabled")
	wantEnabled(t, s, conn.Name, []string{"Client-C", "client-b"}, "after disabling twice")
	wantEnabled(t, s, other.Name, []string{"client-a"}, "other connection")

	// The rest of the connection is untouched.
	got, err := s.GetConnection(ctx, conn.Name)
	must(t, err, "get connection")
	want := conn
	want.EnabledClients = []string{"Client-C", "client-b"}
	wantEqual(t, got, want, "connection after enabling and disabling")

	t.Run("unknown connection", func(t *testing.T) {
		ctx := t.Context()
		for _, enabled := range []bool{true, false} {
			wantErr(t, s.SetConnectionEnabled(ctx, "no-such-connection", "client-a", enabled), store.ErrNotFound, "set unknown connection enabled")
		}
		_, err := s.GetConnection(ctx, "no-such-connection")
		wantErr(t, err, store.ErrNotFound, "SetConnectionEnabled must not create")
	})

	t.Run("DeleteClient", func(t *testing.T) {
		ctx := t.Context()
		must(t, s.CreateClient(ctx, newClient("client-b")), "create client-b")
		must(t, s.SetConnectionEnabled(ctx, other.Name, "client-b", true), "enable client-b at the other connection")
		must(t, s.DeleteClient(ctx, "client-b"), "delete client-b")
		wantEnabled(t, s, conn.Name, []string{"Client-C"}, "after DeleteClient")
		wantEnabled(t, s, other.Name, []string{"client-a"}, "other connection after DeleteClient")

		// A client created again with the ID starts with no connection.
		must(t, s.CreateClient(ctx, newClient("client-b")), "recreate client-b")
		wantEnabled(t, s, conn.Name, []string{"Client-C"}, "after recreating the client")
	})
}

func testBuiltInConnection(t *testing.T, s store.Store) {
	ctx := t.Context()
	list, err := s.ListConnections(ctx)
	must(t, err, "list connections of a new store")
	if len(list) != 1 {
		t.Fatalf("list connections of a new store: got %d connections, want the built-in one: %+v", len(list), list)
	}
	got, err := s.GetConnection(ctx, store.DefaultDatabaseConnection)
	must(t, err, "get built-in connection")
	wantEqual(t, list[0], got, "listed built-in connection")
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Fatalf("built-in connection: CreatedAt %v, UpdatedAt %v; want both set", got.CreatedAt, got.UpdatedAt)
	}
	want := store.Connection{
		Name:      store.DefaultDatabaseConnection,
		Strategy:  store.StrategyDatabase,
		CreatedAt: got.CreatedAt,
		UpdatedAt: got.UpdatedAt,
	}
	wantEqual(t, got, want, "built-in connection")

	dup := newConnection(store.DefaultDatabaseConnection)
	wantErr(t, s.CreateConnection(ctx, dup), store.ErrConflict, "create connection with the built-in name")

	// Enabling the built-in connection for a new client is the caller's
	// choice, not the store's.
	must(t, s.CreateClient(ctx, newClient("client-1")), "create client")
	wantEnabled(t, s, store.DefaultDatabaseConnection, nil, "after CreateClient")
	must(t, s.SetConnectionEnabled(ctx, store.DefaultDatabaseConnection, "client-1", true), "enable built-in connection")
	wantEnabled(t, s, store.DefaultDatabaseConnection, []string{"client-1"}, "after enabling")
}
