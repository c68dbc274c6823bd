package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gatehouse/internal/store"
)

// Run runs the conformance suite against a backend.
//
// newStore must return a new store on every call, holding nothing but what
// the migrations put in: the built-in database connection. It must close
// the store when the test ends (with t.Cleanup). The suite closes one store
// itself, so Close must tolerate being called twice.
//
// The suite pins the behaviour the Store interface leaves open, so that every
// backend agrees with the others:
//   - a Create* method returns ErrConflict for a taken primary key;
//   - a new store holds one connection, the built-in
//     store.DefaultDatabaseConnection of strategy "database" with every
//     other field empty, enabled for no client; CreateClient enables no
//     connection, and DeleteClient disables every connection for the client;
//   - EnabledClients comes back sorted in byte order, without duplicates;
//     CreateConnection stores it and UpdateConnection replaces it;
//   - SetConnectionEnabled is idempotent both ways and returns ErrNotFound
//     for an unknown connection, but does not check the client ID (as
//     grants and tokens name clients unchecked);
//   - ConsumeUpstreamState returns the request as it was, hash included,
//     and never matches an empty hash; UpdateAuthRequest may set a new one;
//   - GetUserByIdentity matches the identity's Connection, not its Provider;
//   - Organization.Connections comes back sorted by name, ListMembers by
//     user ID and UserOrganizations by name, all in byte order, and
//     ListInvitations by CreatedAt, then ID in byte order; UpdateOrganization
//     leaves Connections to SetOrgConnection, and refuses a taken name with ErrConflict;
//   - SetOrgConnection is idempotent both ways, enabling an enabled
//     connection replaces its AssignMembership, and the connection name is
//     not checked; ErrNotFound for an unknown organization;
//   - ListMembers, ListInvitations and UserOrganizations of an unknown key
//     are empty, and IsMember is false; RemoveMember returns ErrNotFound
//     when the user is not a member, whatever the reason;
//   - CreateInvitation returns ErrNotFound for an unknown organization but
//     does not check the client ID; DeleteClient keeps the client's
//     invitations; DeleteUser ends the user's memberships, which a user
//     created again with the ID does not get back; RevokeInvitation may be
//     repeated and revokes used invitations too;
//   - AcceptInvitation checks, in this order: the ticket (ErrNotFound),
//     Revoked (ErrRevoked), UsedAt (ErrAlreadyUsed), now at or after
//     ExpiresAt (ErrExpired), then the organization and the email, compared
//     lower-cased (ErrMismatch); it returns the invitation with UsedAt now
//     and UsedBy set; a member may accept; any refusal, an unknown user's
//     too, leaves the invitation and the memberships as they were;
//   - LinkUsers leaves every field of the primary but Identities as it was,
//     UpdatedAt included, and keeps the primary's grants as they were (the
//     secondary's are deleted, not merged); the secondary's ID, email and
//     connection are free afterwards, its identities are not;
//   - DeleteUser and RecordLogin return ErrNotFound for an unknown user, and
//     DeleteAPI for an unknown identifier, as DeleteClient does;
//   - DeleteAuthRequest, RevokeAccessToken, DeleteSession, RevokeGrant and
//     ResetFailures succeed for unknown keys (they are idempotent);
//   - a record is live while now is before its ExpiresAt;
//   - GetRefreshToken returns used, revoked and expired tokens as they are;
//   - RotateRefreshToken returns the old token as it was before the call, so
//     UsedAt is set in what the overlap use returns; a rotated token is in
//     its overlap while now is before UsedAt+overlap; a next token of another
//     family is refused, and a token that could have rotated stays as it was;
//   - RotateSigningKeys refuses a key whose Algorithm is not alg;
//   - other lists may come back in any order, and nil and empty slices and
//     maps are interchangeable; times come back in UTC, equal to at least
//     the millisecond, and durations equal to at least the millisecond.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Clients", testClients},
		{"CertCache", testCertCache},
		{"UpdateClient", testUpdateClient},
		{"ClientTypes", testClientTypes},
		{"APIs", testAPIs},
		{"ClientGrants", testClientGrants},
		{"Users", testUsers},
		{"UpdateUser", testUpdateUser},
		{"RecordLogin", testRecordLogin},
		{"DeleteUser", testDeleteUser},
		{"SearchUsers", testSearchUsers},
		{"PatchUser", testPatchUser},
		{"PatchUserConcurrent", testPatchUserConcurrent},
		{"ListUserSessions", testListUserSessions},
		{"LinkUsers", testLinkUsers},
		{"LinkUsersIdentities", testLinkUsersIdentities},
		{"LinkUsersRefused", testLinkUsersRefused},
		{"Connections", testConnections},
		{"UpdateConnection", testUpdateConnection},
		{"SetConnectionEnabled", testSetConnectionEnabled},
		{"BuiltInConnection", testBuiltInConnection},
		{"GetUserByIdentity", testGetUserByIdentity},
		{"Organizations", testOrganizations},
		{"UpdateOrganization", testUpdateOrganization},
		{"OrganizationMetadata", testOrganizationMetadata},
		{"SetOrgConnection", testSetOrgConnection},
		{"OrgMembers", testOrgMembers},
		{"DeleteOrganizationCascade", testDeleteOrganizationCascade},
		{"OrgMembersDeleteUser", testOrgMembersDeleteUser},
		{"Invitations", testInvitations},
		{"AcceptInvitation", testAcceptInvitation},
		{"Tickets", testTickets},
		{"Jobs", testJobs},
		{"AuthRequests", testAuthRequests},
		{"ConsumeUpstreamState", testConsumeUpstreamState},
		{"ConsumeAuthRequestForCode", testConsumeAuthRequest},
		{"RedeemCode", testRedeemCode},
		{"RedeemCodeIssued", testRedeemCodeIssued},
		{"CreateGetCode", testCreateGetCode},
		{"AccessTokens", testAccessTokens},
		{"AccessTokenUser", testAccessTokenUser},
		{"RefreshTokens", testRefreshTokens},
		{"RotateRefreshToken", testRotateRefreshToken},
		{"RotateRefreshTokenOverlap", testRotateRefreshTokenOverlap},
		{"RotateRefreshTokenAccess", testRotateRefreshTokenAccess},
		{"RotateRefreshGrace", testRotateRefreshGrace},
		{"ExtendRefreshToken", testExtendRefreshToken},
		{"RotateWithoutOverlapEarlierClock", testRotateWithoutOverlapEarlierClock},
		{"RevokeGrant", testRevokeGrant},
		{"Sessions", testSessions},
		{"BackchannelLogouts", testBackchannelLogouts},
		{"Grants", testGrants},
		{"Throttle", testThrottle},
		{"Attempts", testAttempts},
		{"AttemptsExpire", testAttemptsExpire},
		{"SigningKeys", testSigningKeys},
		{"SigningKeyRings", testSigningKeyRings},
		{"RevokeSigningKey", testRevokeSigningKey},
		{"DeleteExpired", testDeleteExpired},
		{"TimePrecision", testTimePrecision},
		{"PingClose", testPingClose},
		{"Factors", testFactors},
		{"MFAPages", testMFAPages},
		{"Roles", testRoles},
		{"Logs", testLogs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// t0 is the suite's clock for the methods that take a now argument. It is
// millisecond-aligned so that backends may keep milliseconds only.
var t0 = time.Date(2031, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

// elsewhere is the zone of every time the suite stores, so a backend that
// hands back the caller's zone instead of UTC fails.
var elsewhere = time.FixedZone("UTC+05:30", 5*3600+30*60)

// wallNow is the clock for auth requests, whose methods have no now argument
// and so compare ExpiresAt with the backend's wall clock.
func wallNow() time.Time {
	return time.Now().Truncate(time.Millisecond)
}

// must fails the test when err is not nil.
func must(t *testing.T, err error, op string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", op, err)
	}
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, err, want error, op string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", op, err, want)
	}
}

// wantEqual fails the test when got differs from want, and checks that every
// time in got is in UTC.
func wantEqual[T any](t *testing.T, got, want T, op string) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%s: mismatch (-want +got):\n%s", op, diff)
	}
	checkUTC(t, reflect.ValueOf(got), op)
}

// wantSameScopes compares scope lists as sets and rejects duplicates.
func wantSameScopes(t *testing.T, got, want []string, op string) {
	t.Helper()
	seen := make(map[string]bool, len(got))
	for _, s := range got {
		if seen[s] {
			t.Fatalf("%s: scope %q appears twice in %q", op, s, got)
		}
		seen[s] = true
	}
	g, w := sorted(got), sorted(want)
	if diff := cmp.Diff(w, g, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%s: scopes mismatch (-want +got):\n%s", op, diff)
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

var timeType = reflect.TypeFor[time.Time]()

// checkUTC walks v and reports every time.Time that is not in UTC.
func checkUTC(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch {
	case !v.IsValid():
	case v.Type() == timeType:
		if loc := v.Interface().(time.Time).Location(); loc != time.UTC {
			t.Errorf("%s: time in %v, want UTC", path, loc)
		}
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			checkUTC(t, v.Elem(), path)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			checkUTC(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			checkUTC(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// Fixtures. Each returns a record with every field set, so that a backend
// that drops a column fails the round trip.

func newClient(id string) store.Client {
	return store.Client{
		ID:                 id,
		SecretHash:         "sha256:" + id,
		Name:               "App " + id,
		Type:               "regular_web",
		Callbacks:          []string{"https://app.example/callback", "http://localhost:3000/cb?x=1"},
		LogoutURLs:         []string{"https://app.example/"},
		GrantTypes:         []string{"authorization_code", "refresh_token"},
		FirstParty:         true,
		AllowOfflineAccess: true,
		IDTokenTTL:         10 * time.Hour,
		AccessTokenTTL:     24 * time.Hour,
		Refresh: store.RefreshPolicy{
			NoRotation: true,
			Overlap:    1500 * time.Millisecond,
			Idle:       15 * 24 * time.Hour,
			Absolute:   90 * 24 * time.Hour,
		},
		OrganizationUsage:    store.OrgUsageRequire,
		OrganizationBehavior: store.OrgBehaviorPreLoginPrompt,
		InitiateLoginURI:     "https://app.example/login?from=gatehouse",
		MFAPolicy:            "always",
		RequireVerifiedEmail: true,
		CreatedAt:            t0.In(elsewhere),
	}
}

// newConnection returns a connection with every field set, whatever its
// strategy uses, enabled for two clients.
func newConnection(name string) store.Connection {
	return store.Connection{
		Name:               name,
		Strategy:           store.StrategyOIDC,
		ClientID:           "upstream-client-" + name,
		ClientSecretSealed: []byte("sealed\x00\xff" + name),
		Issuer:             "https://idp.example/" + name,
		AuthorizeURL:       "https://idp.example/oauth/authorize",
		TokenURL:           "https://idp.example/oauth/token",
		UserinfoURL:        "https://idp.example/userinfo",
		BaseURL:            "https://github.example",
		APIURL:             "https://github.example/api/v3",
		Scopes:             []string{"openid", "email", "profile"},
		ClaimMapping:       map[string]string{"sub": "oid", "email": "mail", "name": "displayName", "nickname": "ünïcødé"},
		EnabledClients:     []string{"client-1", "client-2"},
		CreatedAt:          t0.Add(-time.Hour).In(elsewhere),
		UpdatedAt:          t0.In(elsewhere),
	}
}

func newAPI(identifier string) store.API {
	return store.API{
		Identifier: identifier,
		Name:       "API " + identifier,
		Scopes: []store.APIScope{
			{Name: "read:messages", Description: "Read your messages"},
			{Name: "write:messages", Description: `Send "messages" as you — ünïcødé`},
			{Name: "admin"},
		},
		TokenLifetime:         2*time.Hour + 500*time.Millisecond,
		SigningAlgorithm:      "ES256",
		AllowOfflineAccess:    true,
		SkipConsentFirstParty: true,
		RBAC:                  true,
		TokenDialect:          store.DialectAccessTokenAuthz,
		CreatedAt:             t0.Add(-time.Hour).In(elsewhere),
		UpdatedAt:             t0.In(elsewhere),
	}
}

// newUser returns a database user whose one identity is derived from id, so
// users with different ids never share an identity.
func newUser(id, email string) store.User {
	return store.User{
		ID:            id,
		Connection:    store.DefaultDatabaseConnection,
		Email:         email,
		EmailVerified: true,
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
		Name:          "Ada Lovelace",
		Nickname:      "ada",
		Picture:       "https://img.example/ada.png",
		GivenName:     "Ada",
		FamilyName:    "Lovelace",
		Blocked:       true,
		LoginsCount:   3,
		LastLogin:     t0.Add(-time.Hour).In(elsewhere),
		// JSON values only: numbers are float64, lists []any.
		AppMetadata: map[string]any{
			"plan":  "pro",
			"seats": float64(5),
			"flags": []any{"beta", true, nil},
			"org":   map[string]any{"id": "o1", "roles": []any{"admin"}},
		},
		UserMetadata: map[string]any{"theme": "dark", "lang": "ünïcødé"},
		Identities: []store.Identity{{
			Connection: store.DefaultDatabaseConnection,
			Provider:   "gatehouse",
			UserID:     strings.TrimPrefix(id, "gatehouse|"),
		}},
		CreatedAt: t0.Add(-24 * time.Hour).In(elsewhere),
		UpdatedAt: t0.Add(-2 * time.Hour).In(elsewhere),
	}
}

func newAuthRequest(id string, expires time.Time) store.AuthRequest {
	return store.AuthRequest{
		ID:                  id,
		ClientID:            "client-1",
		RedirectURI:         "https://app.example/callback",
		ResponseMode:        "query",
		Scopes:              []string{"openid", "profile", "email", "offline_access"},
		State:               "state-" + id,
		Nonce:               "nonce-" + id,
		Prompt:              []string{"login", "consent"},
		MaxAge:              -1,
		LoginHint:           "ada@example.com",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Connection:          store.DefaultDatabaseConnection,
		Audience:            "https://api.example",
		ACRValues:           []string{"http://schemas.openid.net/pape/policies/2007/06/multi-factor"},
		Organization:        "org_acme",
		InvitationHash:      "invitation-hash-" + id,
		BrowserHash:         "browser-hash-" + id,
		AuthUserID:          "gatehouse|grace",
		AuthMethods:         []string{"pwd"},
		ConsentUserID:       "gatehouse|grace",
		// An upstream login and an error at once is no real state; both are
		// set so that a backend that drops a column fails.
		UpstreamConnection: "github",
		UpstreamStateHash:  "upstream-state-hash-" + id,
		UpstreamNonce:      "upstream-nonce-" + id,
		UpstreamVerifier:   "upstream-verifier-" + id,
		Error:              "temporarily_unavailable",
		ErrorDescription:   `GitHub did not answer — "ünïcødé"`,
		CreatedAt:          expires.Add(-10 * time.Minute).In(elsewhere),
		ExpiresAt:          expires.In(elsewhere),
	}
}

// newCode returns a code that is live from t0 for one minute.
func newCode(id, grantID, userID string) store.AuthCode {
	return store.AuthCode{
		ID:                  id,
		GrantID:             grantID,
		ClientID:            "client-1",
		UserID:              userID,
		SessionID:           "session-" + userID,
		RedirectURI:         "https://app.example/callback",
		Scopes:              []string{"openid", "profile", "offline_access"},
		Nonce:               "nonce-" + id,
		Audience:            "https://api.example",
		Organization:        "org_acme",
		AuthTime:            t0.Add(-time.Minute).In(elsewhere),
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		AMR:                 []string{"pwd", "otp", "mfa"},
		CreatedAt:           t0.In(elsewhere),
		ExpiresAt:           t0.Add(time.Minute).In(elsewhere),
	}
}

// newAccessToken returns a token that is live from t0 for one hour.
func newAccessToken(id, grantID, userID string) store.AccessToken {
	return store.AccessToken{
		ID:        id,
		GrantID:   grantID,
		ClientID:  "client-1",
		UserID:    userID,
		Scopes:    []string{"openid", "profile"},
		Audience:  "https://api.example",
		CreatedAt: t0.In(elsewhere),
		ExpiresAt: t0.Add(time.Hour).In(elsewhere),
	}
}

// newRefreshToken returns a token that is live from t0 for thirty days, of a
// family that ends after ninety.
func newRefreshToken(id, familyID, userID string) store.RefreshToken {
	return store.RefreshToken{
		ID:              id,
		FamilyID:        familyID,
		ClientID:        "client-1",
		UserID:          userID,
		SessionID:       "session-" + userID,
		Scopes:          []string{"openid", "offline_access"},
		Audience:        "https://api.example",
		Organization:    "org_acme",
		AMR:             []string{"pwd", "hwk", "mfa"},
		AuthTime:        t0.Add(-time.Minute).In(elsewhere),
		CreatedAt:       t0.In(elsewhere),
		ExpiresAt:       t0.Add(30 * 24 * time.Hour).In(elsewhere),
		FamilyExpiresAt: t0.Add(90 * 24 * time.Hour).In(elsewhere),
	}
}

// newSession returns a session that is live from t0 for one day.
func newSession(id, userID string) store.Session {
	return store.Session{
		ID:        id,
		UserID:    userID,
		AuthTime:  t0.Add(-time.Minute).In(elsewhere),
		Methods:   []string{"pwd", "otp"},
		CreatedAt: t0.In(elsewhere),
		ExpiresAt: t0.Add(24 * time.Hour).In(elsewhere),
	}
}

func newGrant(userID, clientID, audience string, scopes ...string) store.Grant {
	return store.Grant{
		UserID:    userID,
		ClientID:  clientID,
		Audience:  audience,
		Scopes:    scopes,
		CreatedAt: t0.In(elsewhere),
		UpdatedAt: t0.In(elsewhere),
	}
}

// newOrganization returns an organization with every field set and three
// connections, in byte order, the order they come back in.
func newOrganization(id, name string) store.Organization {
	return store.Organization{
		ID:           id,
		Name:         name,
		DisplayName:  "Acme — ünïcødé " + name,
		LogoURL:      "https://cdn.example/" + name + "/logo.png",
		PrimaryColor: "#0A5FFF",
		Connections: []store.OrgConnection{
			{Name: store.DefaultDatabaseConnection, AssignMembership: false},
			{Name: "corp-oidc", AssignMembership: true},
			{Name: "github", AssignMembership: false},
		},
		CreatedAt: t0.Add(-time.Hour).In(elsewhere),
		UpdatedAt: t0.In(elsewhere),

		PageBackground: "#FAFAFA",
		Metadata:       map[string]string{"plan": "enterprise", "région": "eu — ünïcødé " + name},
	}
}

// newInvitation returns an unused invitation created at t0 that expires a
// week later.
func newInvitation(id, orgID, email string) store.Invitation {
	return store.Invitation{
		ID:             id,
		TicketHash:     "ticket-hash-" + id,
		OrganizationID: orgID,
		Email:          email,
		ClientID:       "client-1",
		Connection:     "corp-oidc",
		Inviter:        "Ada Lovelace — ünïcødé",
		CreatedAt:      t0.In(elsewhere),
		ExpiresAt:      t0.Add(7 * 24 * time.Hour).In(elsewhere),
	}
}

func newSigningKey(id, alg string) store.SigningKey {
	jwk := `{"kty":"RSA","kid":"` + id + `","n":"AQAB","e":"AQAB"}`
	switch alg {
	case "ES256":
		jwk = `{"kty":"EC","kid":"` + id + `","crv":"P-256","x":"AQAB","y":"AQAB"}`
	case "EdDSA":
		jwk = `{"kty":"OKP","kid":"` + id + `","crv":"Ed25519","x":"AQAB"}`
	}
	return store.SigningKey{
		ID:               id,
		Algorithm:        alg,
		PrivateEncrypted: []byte("sealed\x00\xff" + id),
		PublicJWK:        []byte(jwk),
		CreatedAt:        t0.In(elsewhere),
	}
}

// issueCode stores c the only way the Store allows: through a live auth
// request that is consumed for it.
func issueCode(t *testing.T, s store.Store, c store.AuthCode) {
	t.Helper()
	reqID := "req-for-" + c.ID
	must(t, s.CreateAuthRequest(t.Context(), newAuthRequest(reqID, wallNow().Add(10*time.Minute))), "create auth request")
	must(t, s.ConsumeAuthRequestForCode(t.Context(), reqID, c), "consume auth request for code")
}

// wantLiveAccessToken fails unless the token is live at t0.
func wantLiveAccessToken(t *testing.T, s store.Store, want store.AccessToken) {
	t.Helper()
	got, err := s.GetAccessToken(t.Context(), want.ID, t0)
	must(t, err, "get access token "+want.ID)
	wantEqual(t, got, want, "get access token "+want.ID)
}

// wantRefreshRevoked fails unless the refresh token is stored, marked
// revoked, and refuses to rotate, even within an overlap.
func wantRefreshRevoked(t *testing.T, s store.Store, id string, revoked bool) {
	t.Helper()
	got, err := s.GetRefreshToken(t.Context(), id)
	must(t, err, "get refresh token "+id)
	if got.Revoked != revoked {
		t.Fatalf("refresh token %s: Revoked = %v, want %v", id, got.Revoked, revoked)
	}
	if !revoked {
		return
	}
	_, err = s.RotateRefreshToken(t.Context(), id, newRefreshToken(id+"-probe", got.FamilyID, got.UserID), t0.Add(time.Second), 365*24*time.Hour, nil)
	wantErr(t, err, store.ErrRevoked, "rotate revoked refresh token "+id)
	_, err = s.GetRefreshToken(t.Context(), id+"-probe")
	wantErr(t, err, store.ErrNotFound, "get refresh token stored by a refused rotation")
}
