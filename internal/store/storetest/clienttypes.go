package storetest

import (
	"testing"
	"time"

	"gatehouse/internal/store"
)

// testClientTypes checks the application fields of single-page, native and
// private_key_jwt applications, and the single use of client assertions.
func testClientTypes(t *testing.T, s store.Store) {
	t.Run("Fields", func(t *testing.T) { testClientTypeFields(t, s) })
	t.Run("ClientAssertions", func(t *testing.T) { testClientAssertions(t, s) })
}

func testClientTypeFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	spa := newClient("types-spa")
	spa.Type, spa.TokenEndpointAuthMethod, spa.SecretHash = store.ClientSPA, store.AuthMethodNone, ""
	spa.WebOrigins = []string{"https://spa.example", "http://localhost:3000"}
	spa.AllowedOrigins = []string{"https://spa.example"}
	spa.IDTokenSigningAlg = "ES256"
	must(t, s.CreateClient(ctx, spa), "create spa")
	got, err := s.GetClient(ctx, spa.ID)
	must(t, err, "get spa")
	wantEqual(t, got, spa, "spa as stored")

	jwt := newClient("types-jwt")
	jwt.TokenEndpointAuthMethod, jwt.SecretHash = store.AuthMethodPrivateKeyJWT, ""
	jwt.RequirePKCE = true
	jwt.JWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
	must(t, s.CreateClient(ctx, jwt), "create private_key_jwt client")

	// Every new field goes back to its zero value on update.
	plain := newClient(jwt.ID)
	must(t, s.UpdateClient(ctx, plain), "update to defaults")
	got, err = s.GetClient(ctx, jwt.ID)
	must(t, err, "get updated client")
	want := plain
	want.CreatedAt = jwt.CreatedAt
	wantEqual(t, got, want, "client after update")

	// And back again, through UpdateClient.
	jwt.CreatedAt = got.CreatedAt
	must(t, s.UpdateClient(ctx, jwt), "update to private_key_jwt")
	got, err = s.GetClient(ctx, jwt.ID)
	must(t, err, "get client again")
	wantEqual(t, got, jwt, "client after second update")

	list, err := s.ListClients(ctx)
	must(t, err, "list clients")
	found := 0
	for _, c := range list {
		switch c.ID {
		case spa.ID:
			wantEqual(t, c, spa, "listed spa")
			found++
		case jwt.ID:
			wantEqual(t, c, jwt, "listed private_key_jwt client")
			found++
		}
	}
	if found != 2 {
		t.Errorf("ListClients returned %d of the 2 clients", found)
	}
}

func testClientAssertions(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0
	exp := now.Add(2 * time.Minute)
	must(t, s.UseClientAssertion(ctx, "client-a", "jti-1", now, exp), "first use")
	wantErr(t, s.UseClientAssertion(ctx, "client-a", "jti-1", now.Add(time.Minute), exp), store.ErrAlreadyUsed, "replay before expiry")
	wantErr(t, s.UseClientAssertion(ctx, "client-a", "jti-1", exp.Add(-time.Millisecond), exp.Add(time.Hour)), store.ErrAlreadyUsed, "replay just before expiry")
	// The same jti from another client is another assertion.
	must(t, s.UseClientAssertion(ctx, "client-b", "jti-1", now, exp), "same jti, other client")
	// Once expired, the jti is forgotten: the assertion itself is refused
	// by its exp claim before the store is asked.
	must(t, s.UseClientAssertion(ctx, "client-a", "jti-1", exp, exp.Add(time.Minute)), "use after expiry")
	wantErr(t, s.UseClientAssertion(ctx, "client-a", "jti-1", exp.Add(30*time.Second), exp.Add(time.Minute)), store.ErrAlreadyUsed, "replay of the renewed jti")

	must(t, s.UseClientAssertion(ctx, "client-c", "jti-2", now, now.Add(time.Minute)), "use jti-2")
	n, err := s.DeleteExpired(ctx, now.Add(2*time.Hour))
	must(t, err, "delete expired")
	if n < 3 {
		t.Errorf("DeleteExpired removed %d rows, want the 3 expired assertions at least", n)
	}
	must(t, s.UseClientAssertion(ctx, "client-c", "jti-2", now, now.Add(time.Minute)), "use jti-2 after DeleteExpired removed it")
}
