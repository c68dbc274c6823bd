package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/authflow"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
)

// stepEnv is the least a step needs: a provider over a real SQLite store
// and a way to make browsers with sessions.
type stepEnv struct {
	p   *Provider
	st  store.Store
	now time.Time
}

func newStepEnv(t *testing.T) *stepEnv {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	clock := func() time.Time { return now }
	p := &Provider{cfg: Config{Store: st, Sessions: &session.Manager{Store: st, TTL: time.Hour, Now: clock}, Now: clock}}
	return &stepEnv{p: p, st: st, now: now}
}

// user stores a user and returns it.
func (e *stepEnv) user(t *testing.T, id string, edit func(*store.User)) store.User {
	t.Helper()
	u := store.User{ID: "gatehouse|" + id, Connection: store.DefaultDatabaseConnection, Email: id + "@example.com",
		CreatedAt: e.now, UpdatedAt: e.now}
	if edit != nil {
		edit(&u)
	}
	if err := e.st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// browser returns a request carrying a session of u that authenticated at
// authTime; a zero user gives a request without a session.
func (e *stepEnv) browser(t *testing.T, u store.User, authTime time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/authorize/resume", nil)
	if u.ID == "" {
		return r
	}
	v := token.NewOpaque()
	if err := e.st.CreateSession(t.Context(), store.Session{ID: token.Hash(v), UserID: u.ID, AuthTime: authTime,
		Methods: []string{"pwd"}, CreatedAt: authTime, ExpiresAt: e.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r.AddCookie(&http.Cookie{Name: session.CookieName, Value: v})
	return r
}

func (e *stepEnv) flow(client store.Client, edit func(*store.AuthRequest)) *flow {
	req := store.AuthRequest{ID: "req-1", ClientID: client.ID, RedirectURI: "https://app.example/cb", MaxAge: -1,
		Scopes: []string{"openid", "email"}, CreatedAt: e.now.Add(-time.Minute), ExpiresAt: e.now.Add(time.Hour)}
	if edit != nil {
		edit(&req)
	}
	return &flow{req: req, client: client, status: http.StatusFound}
}

// check runs one step and compares its outcome: the page path it sends to
// (without the query), or the error code it ends with, or neither.
func check(t *testing.T, e *stepEnv, s step, r *http.Request, f *flow, wantPage, wantErr, wantNone string) {
	t.Helper()
	o, err := s.run(context.Background(), e.p, r, f)
	if err != nil {
		t.Fatalf("%s: %v", s.name(), err)
	}
	page, _, _ := strings.Cut(o.page, "?")
	gotErr, gotNone := "", ""
	if o.err != nil {
		gotErr = o.err.Code
	}
	if o.none != nil {
		gotNone = o.none.Code
	}
	if page != wantPage || gotErr != wantErr || gotNone != wantNone {
		t.Errorf("%s: page %q error %q prompt=none error %q; want %q %q %q", s.name(), o.page, gotErr, gotNone, wantPage, wantErr, wantNone)
	}
	if o.page != "" && !strings.Contains(o.page, "req="+f.req.ID) {
		t.Errorf("%s: page %q does not name the request", s.name(), o.page)
	}
}

func TestEndedStep(t *testing.T) {
	e := newStepEnv(t)
	check(t, e, endedStep{}, e.browser(t, store.User{}, time.Time{}), e.flow(store.Client{ID: "c"}, nil), "", "", "")
	f := e.flow(store.Client{ID: "c"}, func(r *store.AuthRequest) { r.Error, r.ErrorDescription = "access_denied", "the user denied access" })
	check(t, e, endedStep{}, e.browser(t, store.User{}, time.Time{}), f, "", "access_denied", "")
}

func TestOrgPromptStep(t *testing.T) {
	e := newStepEnv(t)
	pre := store.Client{ID: "pre", OrganizationUsage: store.OrgUsageRequire, OrganizationBehavior: store.OrgBehaviorPreLoginPrompt}
	post := store.Client{ID: "post", OrganizationUsage: store.OrgUsageRequire, OrganizationBehavior: store.OrgBehaviorPostLoginPrompt}
	r := e.browser(t, store.User{}, time.Time{})
	tests := []struct {
		name     string
		step     orgPromptStep
		client   store.Client
		org      string
		wantPage string
	}{
		{"pre-login prompt asks", orgPromptStep{afterLogin: false}, pre, "", authflow.OrganizationPath},
		{"pre-login prompt, organization known", orgPromptStep{afterLogin: false}, pre, "org_1", ""},
		{"pre-login step leaves post-login apps alone", orgPromptStep{afterLogin: false}, post, "", ""},
		{"post-login prompt asks", orgPromptStep{afterLogin: true}, post, "", authflow.OrganizationPath},
		{"post-login step leaves pre-login apps alone", orgPromptStep{afterLogin: true}, pre, "", ""},
		{"no organizations", orgPromptStep{afterLogin: true}, store.Client{ID: "plain"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.flow(tt.client, func(r *store.AuthRequest) { r.Organization = tt.org })
			none := ""
			if tt.wantPage != "" {
				none = ErrLoginRequired
			}
			check(t, e, tt.step, r, f, tt.wantPage, "", none)
		})
	}
}

func TestAuthenticateStep(t *testing.T) {
	e := newStepEnv(t)
	ctx := t.Context()
	ada := e.user(t, "ada", nil)
	grace := e.user(t, "grace", nil)
	blocked := e.user(t, "blocked", func(u *store.User) { u.Blocked = true })
	if err := e.st.CreateConnection(ctx, store.Connection{Name: "github", Strategy: store.StrategyGitHub, CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	client := store.Client{ID: "c"}
	recent, old := e.now.Add(-10*time.Second), e.now.Add(-time.Hour)
	tests := []struct {
		name     string
		user     store.User
		authTime time.Time
		edit     func(*store.AuthRequest)
		wantPage string
	}{
		{"no session", store.User{}, time.Time{}, nil, authflow.LoginPath},
		{"live session", ada, old, nil, ""},
		{"blocked user", blocked, recent, nil, authflow.LoginPath},
		{"prompt=login with an older session", ada, old, func(r *store.AuthRequest) { r.Prompt = []string{"login"} }, authflow.LoginPath},
		{"prompt=login after logging in on the request", ada, e.now, func(r *store.AuthRequest) { r.Prompt = []string{"login"} }, ""},
		{"max_age exceeded", ada, old, func(r *store.AuthRequest) { r.MaxAge = 60 }, authflow.LoginPath},
		{"max_age kept", ada, recent, func(r *store.AuthRequest) { r.MaxAge = 60 }, ""},
		{"someone else authenticated on the request", grace, recent, func(r *store.AuthRequest) { r.AuthUserID = ada.ID }, authflow.LoginPath},
		{"the same user authenticated on the request", ada, recent, func(r *store.AuthRequest) { r.AuthUserID = ada.ID }, ""},
		{"connection the session did not use goes upstream", ada, recent, func(r *store.AuthRequest) { r.Connection = "github" }, authflow.LoginPath + "/github"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.flow(client, tt.edit)
			none := ""
			if tt.wantPage != "" {
				none = ErrLoginRequired
			}
			check(t, e, authenticateStep{}, e.browser(t, tt.user, tt.authTime), f, tt.wantPage, "", none)
			if tt.wantPage == "" && f.user.ID != tt.user.ID {
				t.Errorf("flow user %q, want %q", f.user.ID, tt.user.ID)
			}
		})
	}
}

func TestJoinOrganizationStep(t *testing.T) {
	e := newStepEnv(t)
	ctx := t.Context()
	member := e.user(t, "member", nil)
	stranger := e.user(t, "stranger", nil)
	if err := e.st.CreateOrganization(ctx, store.Organization{ID: "org_1", Name: "acme", CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddMember(ctx, "org_1", member.ID); err != nil {
		t.Fatal(err)
	}
	r := e.browser(t, store.User{}, time.Time{})
	for _, tt := range []struct {
		name    string
		user    store.User
		org     string
		wantErr string
	}{
		{"no organization", stranger, "", ""},
		{"member", member, "org_1", ""},
		{"not a member", stranger, "org_1", ErrAccessDenied},
		{"organization deleted meanwhile", member, "org_gone", ErrInvalidRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := e.flow(store.Client{ID: "c"}, func(r *store.AuthRequest) { r.Organization = tt.org })
			f.user = tt.user
			check(t, e, joinOrganizationStep{}, r, f, "", tt.wantErr, "")
		})
	}
}

func TestConsentStep(t *testing.T) {
	e := newStepEnv(t)
	ctx := t.Context()
	ada := e.user(t, "ada", nil)
	grace := e.user(t, "grace", nil)
	third := store.Client{ID: "third"}
	first := store.Client{ID: "first", FirstParty: true}
	if err := e.st.CreateAPI(ctx, store.API{Identifier: "https://api.example", Name: "API", SigningAlgorithm: "RS256",
		CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpsertGrant(ctx, store.Grant{UserID: grace.ID, ClientID: third.ID, Scopes: []string{"email", "openid"},
		CreatedAt: e.now, UpdatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	r := e.browser(t, store.User{}, time.Time{})
	tests := []struct {
		name     string
		client   store.Client
		user     store.User
		edit     func(*store.AuthRequest)
		wantPage string
	}{
		{"first party skips", first, ada, nil, ""},
		{"first party, API without the skip", first, ada, func(r *store.AuthRequest) { r.Audience = "https://api.example" }, authflow.ConsentPath},
		{"third party asks", third, ada, nil, authflow.ConsentPath},
		{"approved on this request by this user", third, ada, func(r *store.AuthRequest) { r.ConsentUserID = ada.ID }, ""},
		{"approved on this request by someone else", third, ada, func(r *store.AuthRequest) { r.ConsentUserID = grace.ID }, authflow.ConsentPath},
		{"remembered grant covers the scopes", third, grace, nil, ""},
		{"remembered grant, prompt=consent", third, grace, func(r *store.AuthRequest) { r.Prompt = []string{"consent"} }, authflow.ConsentPath},
		{"remembered grant lacks a scope", third, grace, func(r *store.AuthRequest) { r.Scopes = append(r.Scopes, "profile") }, authflow.ConsentPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.flow(tt.client, tt.edit)
			f.user = tt.user
			none := ""
			if tt.wantPage != "" {
				none = ErrConsentRequired
			}
			check(t, e, consentStep{}, r, f, tt.wantPage, "", none)
		})
	}
}

func TestSecondFactorStep(t *testing.T) {
	e := newStepEnv(t)
	ctx := t.Context()
	plain := e.user(t, "plain", nil)
	app := e.user(t, "app", nil)
	key := e.user(t, "key", nil)
	pending := e.user(t, "pending", nil)
	for _, err := range []error{
		e.st.EnrollTOTP(ctx, store.TOTPFactor{ID: "totp_app", UserID: app.ID, SecretSealed: []byte("s"), CreatedAt: e.now}),
		e.st.ConfirmTOTP(ctx, app.ID, "totp_app", 1),
		e.st.AddWebAuthnCredential(ctx, store.WebAuthnCredential{ID: "wa_key", UserID: key.ID, Type: store.FactorWebAuthnRoaming,
			CredentialID: []byte("cred"), PublicKey: []byte("pk"), CreatedAt: e.now}),
		// An enrollment never confirmed is no factor yet.
		e.st.EnrollTOTP(ctx, store.TOTPFactor{ID: "totp_pending", UserID: pending.ID, SecretSealed: []byte("s"), CreatedAt: e.now}),
		e.st.SetRecoveryCodes(ctx, pending.ID, "rc_pending", []string{"h1"}, e.now),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	mfaACR := func(r *store.AuthRequest) { r.ACRValues = []string{"urn:other", ACRMultiFactor} }
	otherACR := func(r *store.AuthRequest) { r.ACRValues = []string{"urn:other"} }
	pwd := []string{"pwd"}
	tests := []struct {
		name      string
		server    string // the server's policy
		appPolicy string // the application's
		user      store.User
		methods   []string // the session's
		edit      func(*store.AuthRequest)
		wantPage  string
	}{
		{"default policy, not enrolled", "", "", plain, pwd, nil, ""},
		{"never, enrolled", "never", "", app, pwd, nil, ""},
		{"never, acr_values asks, not enrolled", "never", "", plain, pwd, mfaACR, authflow.MFAEnrollPath},
		{"never, acr_values asks, enrolled", "never", "", app, pwd, mfaACR, authflow.MFAPath},
		{"never, other acr_values", "never", "", app, pwd, otherACR, ""},
		{"optional, not enrolled", "optional", "", plain, pwd, nil, ""},
		{"optional, enrolled app", "optional", "", app, pwd, nil, authflow.MFAPath},
		{"optional, enrolled key", "optional", "", key, pwd, nil, authflow.MFAPath},
		{"optional, pending enrollment only", "optional", "", pending, pwd, nil, ""},
		{"always, not enrolled", "always", "", plain, pwd, nil, authflow.MFAEnrollPath},
		{"always, pending enrollment only", "always", "", pending, pwd, nil, authflow.MFAEnrollPath},
		{"always, enrolled", "always", "", app, pwd, nil, authflow.MFAPath},
		{"always, second factor passed", "always", "", app, []string{"pwd", "otp", "mfa"}, nil, ""},
		{"always, passkey login", "always", "", key, []string{"swk", "mfa"}, nil, ""},
		{"acr_values, second factor passed", "never", "", app, []string{"pwd", "hwk", "mfa"}, mfaACR, ""},
		{"application always over server never", "never", "always", plain, pwd, nil, authflow.MFAEnrollPath},
		{"application never over server always", "always", "never", app, pwd, nil, ""},
		{"application never, acr_values asks", "always", "never", app, pwd, mfaACR, authflow.MFAPath},
		{"application optional over server never", "never", "optional", app, pwd, nil, authflow.MFAPath},
		{"application inherits always", "always", "", plain, pwd, nil, authflow.MFAEnrollPath},
	}
	r := e.browser(t, store.User{}, time.Time{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.p.cfg.MFAPolicy = tt.server
			f := e.flow(store.Client{ID: "c", MFAPolicy: tt.appPolicy}, tt.edit)
			f.user = tt.user
			f.sess = store.Session{ID: "s", UserID: tt.user.ID, Methods: tt.methods}
			none := ""
			if tt.wantPage != "" {
				none = ErrInteractionRequired
			}
			check(t, e, secondFactorStep{}, r, f, tt.wantPage, "", none)
		})
	}
}

// TestSecondFactorStepOrder: the step runs right after authentication, so
// that nothing is decided (organization, consent) before the second
// factor.
func TestSecondFactorStepOrder(t *testing.T) {
	var names []string
	for _, s := range steps {
		names = append(names, s.name())
	}
	i := slices.Index(names, "authenticate")
	if i < 0 || i+1 >= len(names) || names[i+1] != "second factor" {
		t.Errorf("steps %q: want \"second factor\" right after \"authenticate\"", names)
	}
}

func TestVerifiedEmailStep(t *testing.T) {
	e := newStepEnv(t)
	r := e.browser(t, store.User{}, time.Time{})
	requires := store.Client{ID: "strict", RequireVerifiedEmail: true}
	for _, tt := range []struct {
		name     string
		client   store.Client
		verified bool
		wantPage string
	}{
		{"not required", store.Client{ID: "c"}, false, ""},
		{"required and verified", requires, true, ""},
		{"required, not verified", requires, false, authflow.EmailVerificationPath},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := e.flow(tt.client, nil)
			f.user = store.User{ID: "gatehouse|u", EmailVerified: tt.verified}
			none := ""
			if tt.wantPage != "" {
				none = ErrInteractionRequired
			}
			check(t, e, verifiedEmailStep{}, r, f, tt.wantPage, "", none)
		})
	}
}
