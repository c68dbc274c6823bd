package oauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// refreshStep is one use of a refresh token in a policy scenario.
type refreshStep struct {
	advance time.Duration // moves the clock first
	use     int           // index of the refresh token among those issued so far; negative counts from the newest
	want    int           // 200, or 400 invalid_grant
}

// TestRefreshPolicy covers a client's refresh policy (store.RefreshPolicy):
// rotation with reuse detection and the overlap window (RFC 9700
// §4.14.2), no rotation, idle and absolute lifetimes.
func TestRefreshPolicy(t *testing.T) {
	e := newEnv(t)
	const day = 24 * time.Hour
	tests := []struct {
		name   string
		policy store.RefreshPolicy
		steps  []refreshStep
		// familyDead wants every refresh and access token of the grant
		// refused after the steps.
		familyDead bool
	}{
		{
			name:       "rotation: reuse without overlap revokes the family",
			steps:      []refreshStep{{use: 0, want: 200}, {use: 0, want: 400}},
			familyDead: true,
		},
		{
			name:   "rotation: each new token works once",
			steps:  []refreshStep{{use: 0, want: 200}, {use: -1, want: 200}, {use: -1, want: 200}, {use: 1, want: 400}},
			policy: store.RefreshPolicy{}, familyDead: true,
		},
		{
			name:   "overlap: second use within the window",
			policy: store.RefreshPolicy{Overlap: 30 * time.Second},
			steps:  []refreshStep{{use: 0, want: 200}, {advance: 10 * time.Second, use: 0, want: 200}, {use: 1, want: 200}, {use: 2, want: 200}},
		},
		{
			// A second request whose clock read came a little before the
			// rotation it races with (or a server whose clock lags) is
			// still a reuse when there is no overlap period.
			name:       "rotation: reuse with an earlier clock reading revokes the family",
			steps:      []refreshStep{{use: 0, want: 200}, {advance: -time.Second, use: 0, want: 400}},
			familyDead: true,
		},
		{
			name:       "overlap: third use revokes the family",
			policy:     store.RefreshPolicy{Overlap: 30 * time.Second},
			steps:      []refreshStep{{use: 0, want: 200}, {use: 0, want: 200}, {use: 0, want: 400}},
			familyDead: true,
		},
		{
			name:       "overlap: use after the window",
			policy:     store.RefreshPolicy{Overlap: 30 * time.Second},
			steps:      []refreshStep{{use: 0, want: 200}, {advance: 31 * time.Second, use: 0, want: 400}},
			familyDead: true,
		},
		{
			name:       "overlap: use at the end of the window",
			policy:     store.RefreshPolicy{Overlap: 30 * time.Second},
			steps:      []refreshStep{{use: 0, want: 200}, {advance: 30 * time.Second, use: 0, want: 400}},
			familyDead: true,
		},
		{
			name:   "no rotation: the same token keeps working",
			policy: store.RefreshPolicy{NoRotation: true},
			steps:  []refreshStep{{use: 0, want: 200}, {use: 0, want: 200}, {advance: time.Hour, use: 0, want: 200}},
		},
		{
			name:   "no rotation: unused past the idle lifetime",
			policy: store.RefreshPolicy{NoRotation: true, Idle: time.Hour, Absolute: day},
			steps:  []refreshStep{{advance: time.Hour + time.Minute, use: 0, want: 400}},
		},
		{
			// Idle is how long an *unused* token lives: a token used every
			// 40 minutes is never idle for an hour.
			name:   "no rotation: a token in use outlives the idle lifetime",
			policy: store.RefreshPolicy{NoRotation: true, Idle: time.Hour, Absolute: day},
			steps: []refreshStep{
				{advance: 40 * time.Minute, use: 0, want: 200},
				{advance: 40 * time.Minute, use: 0, want: 200},
				{advance: 40 * time.Minute, use: 0, want: 200},
			},
		},
		{
			name:   "no rotation: the absolute lifetime ends the token",
			policy: store.RefreshPolicy{NoRotation: true, Idle: time.Hour, Absolute: 90 * time.Minute},
			steps:  []refreshStep{{advance: 50 * time.Minute, use: 0, want: 200}, {advance: 45 * time.Minute, use: 0, want: 400}},
		},
		{
			name:   "idle: unused past the idle lifetime",
			policy: store.RefreshPolicy{Idle: time.Hour, Absolute: day},
			steps:  []refreshStep{{advance: time.Hour + time.Minute, use: 0, want: 400}},
		},
		{
			name:   "idle: just within the idle lifetime",
			policy: store.RefreshPolicy{Idle: time.Hour, Absolute: day},
			steps:  []refreshStep{{advance: 59 * time.Minute, use: 0, want: 200}},
		},
		{
			name:   "idle: each rotation restarts the idle clock",
			policy: store.RefreshPolicy{Idle: time.Hour, Absolute: day},
			steps: []refreshStep{
				{advance: 50 * time.Minute, use: 0, want: 200},
				{advance: 50 * time.Minute, use: -1, want: 200},
				{advance: 50 * time.Minute, use: -1, want: 200},
			},
		},
		{
			name:   "idle: a rotated token unused past the idle lifetime",
			policy: store.RefreshPolicy{Idle: time.Hour, Absolute: day},
			steps:  []refreshStep{{advance: 50 * time.Minute, use: 0, want: 200}, {advance: 61 * time.Minute, use: -1, want: 400}},
		},
		{
			name:   "absolute: the family's end caps a freshly rotated token",
			policy: store.RefreshPolicy{Idle: time.Hour, Absolute: 2 * time.Hour},
			steps: []refreshStep{
				{advance: 50 * time.Minute, use: 0, want: 200},
				{advance: 50 * time.Minute, use: -1, want: 200},
				{advance: 15 * time.Minute, use: -1, want: 200},
				// Created 10 minutes ago, idle for an hour, but the family
				// started 125 minutes ago.
				{advance: 10 * time.Minute, use: -1, want: 400},
			},
		},
		{
			name: "server defaults: 30 days idle",
			steps: []refreshStep{
				{advance: 29 * day, use: 0, want: 200},
				{advance: 29 * day, use: -1, want: 200},
				{advance: 31 * day, use: -1, want: 400},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClientWith(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true}, func(c *store.Client) { c.Refresh = tt.policy })
			_, _, cookie := e.login(t)
			first := e.exchange(t, c, e.code(t, c, cookie, url.Values{"scope": {"openid offline_access"}}), nil)
			if first.RefreshToken == "" {
				t.Fatalf("no refresh token: %+v", first)
			}
			g := grantTokens{access: []string{first.AccessToken}, refresh: []string{first.RefreshToken}}
			var elapsed time.Duration
			for i, s := range tt.steps {
				e.clock.Advance(s.advance)
				elapsed += s.advance
				idx := s.use
				if idx < 0 {
					idx += len(g.refresh)
				}
				r := e.refresh(t, c, g.refresh[idx])
				if s.want != http.StatusOK {
					if r.status == http.StatusOK {
						t.Errorf("step %d (token %d, +%v): status 200, want %d", i+1, idx, elapsed, s.want)
					}
					checkError(t, r, s.want, "invalid_grant")
					continue
				}
				if r.status != http.StatusOK {
					t.Fatalf("step %d (token %d, +%v): status %d, want 200; body %s", i+1, idx, elapsed, r.status, r.body)
				}
				var tr tokenResult
				if err := json.Unmarshal(r.body, &tr); err != nil {
					t.Fatalf("step %d: decode %s: %v", i+1, r.body, err)
				}
				g.access = append(g.access, tr.AccessToken)
				if tt.policy.NoRotation {
					if tr.RefreshToken != "" {
						t.Errorf("step %d: a new refresh token without rotation", i+1)
					}
					continue
				}
				if tr.RefreshToken == "" || tr.RefreshToken == g.refresh[idx] {
					t.Fatalf("step %d: refresh_token %q, want a new one", i+1, tr.RefreshToken)
				}
				g.refresh = append(g.refresh, tr.RefreshToken)
			}
			if tt.familyDead {
				for i, rt := range g.refresh {
					checkError(t, e.refresh(t, c, rt), http.StatusBadRequest, "invalid_grant")
					if t.Failed() {
						t.Fatalf("refresh token %d of the revoked family still works", i)
					}
				}
				checkAccess(t, e, g, dead)
			}
		})
	}
}

// TestRefreshConcurrent refreshes one token from two tabs at the same
// moment: within an overlap period both succeed; without one, at most one
// does and the reuse revokes the whole family, the winner's new tokens
// included. The race is run several times so that an interleaving that
// breaks this shows up reliably.
func TestRefreshConcurrent(t *testing.T) {
	e := newEnv(t)
	const rounds = 50
	tests := []struct {
		name    string
		overlap time.Duration
		wantOK  int
	}{
		{name: "with overlap", overlap: 30 * time.Second, wantOK: 2},
		{name: "without overlap", wantOK: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.newClientWith(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true}, func(c *store.Client) {
				c.Refresh.Overlap = tt.overlap
			})
			_, _, cookie := e.login(t)
			// Failures by kind, over the rounds.
			var wrongOK, wrongAccess, wrongRefresh int
			for round := range rounds {
				first := e.exchange(t, c, e.code(t, c, cookie, url.Values{"scope": {"openid offline_access"}}), nil)
				won := refreshTwoTabs(t, e, c, first.RefreshToken)
				// Without overlap exactly one tab wins, and the other's
				// reuse revokes the winner's new tokens with the family.
				if len(won) != tt.wantOK {
					wrongOK++
					t.Logf("round %d: %d tabs got tokens, want %d", round, len(won), tt.wantOK)
				}
				for _, tr := range won {
					r := userinfoGET(t, e, tr.AccessToken)
					if (tt.wantOK == 2) != (r.status == http.StatusOK) {
						wrongAccess++
						t.Logf("round %d: a winning tab's access token: userinfo status %d", round, r.status)
					}
				}
				for _, tr := range won {
					r := e.refresh(t, c, tr.RefreshToken)
					if (tt.wantOK == 2) != (r.status == http.StatusOK) {
						wrongRefresh++
						t.Logf("round %d: a winning tab's refresh token: status %d", round, r.status)
					}
					if r.status != http.StatusOK {
						checkError(t, r, http.StatusBadRequest, "invalid_grant")
					}
				}
			}
			if wrongOK > 0 {
				t.Errorf("in %d of %d rounds, not exactly %d tab(s) got tokens", wrongOK, rounds, tt.wantOK)
			}
			if wrongAccess > 0 && tt.wantOK == 1 {
				t.Errorf("%d access tokens of winning tabs outlived the family's revocation for reuse (%d rounds)", wrongAccess, rounds)
			} else if wrongAccess > 0 {
				t.Errorf("%d access tokens of winning tabs were refused (%d rounds)", wrongAccess, rounds)
			}
			if wrongRefresh > 0 && tt.wantOK == 1 {
				t.Errorf("%d refresh tokens of winning tabs outlived the family's revocation for reuse (%d rounds)", wrongRefresh, rounds)
			} else if wrongRefresh > 0 {
				t.Errorf("%d refresh tokens of winning tabs were refused (%d rounds)", wrongRefresh, rounds)
			}
		})
	}
}

// refreshTwoTabs sends two refresh requests for refreshToken at the same
// moment and returns the successful responses; every failure must be
// invalid_grant.
func refreshTwoTabs(t *testing.T, e *env, c client, refreshToken string) []tokenResult {
	t.Helper()
	form := url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken},
		"client_id": {c.ID}, "client_secret": {c.Secret},
	}.Encode()
	type result struct {
		status int
		header http.Header
		body   []byte
		err    error
	}
	results := make([]result, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			<-start
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form))
			if err != nil {
				results[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := e.http.Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			results[i].body, results[i].err = io.ReadAll(resp.Body)
			results[i].status, results[i].header = resp.StatusCode, resp.Header
		})
	}
	close(start)
	wg.Wait()

	var won []tokenResult
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("tab %d: %v", i, r.err)
		}
		if r.status != http.StatusOK {
			checkError(t, response{status: r.status, header: r.header, body: r.body}, http.StatusBadRequest, "invalid_grant")
			continue
		}
		var tr tokenResult
		if err := json.Unmarshal(r.body, &tr); err != nil || tr.AccessToken == "" || tr.RefreshToken == "" {
			t.Fatalf("tab %d: body %s", i, r.body)
		}
		won = append(won, tr)
	}
	return won
}

// TestRefreshOfflineAccess checks that a refresh token needs offline
// access on both the application and the API, and that refreshing an API
// grant returns a new RFC 9068 access token.
func TestRefreshOfflineAccess(t *testing.T) {
	e := newEnv(t)
	scopes := []store.APIScope{{Name: "read", Description: "Read"}}
	offlineAPI := e.newAPI(t, store.API{Identifier: "https://offline.example/api", Scopes: scopes, AllowOfflineAccess: true, SigningAlgorithm: "ES256"})
	onlineAPI := e.newAPI(t, store.API{Identifier: "https://online.example/api", Scopes: scopes})
	offlineApp := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	onlineApp := e.newClient(t, oauth.NewClientParams{FirstParty: true})
	user, _, cookie := e.login(t)

	tests := []struct {
		name        string
		client      client
		audience    string
		scope       string
		wantRefresh bool
	}{
		{name: "app and API allow offline access", client: offlineApp, audience: offlineAPI.Identifier, scope: "openid read offline_access", wantRefresh: true},
		{name: "app and API allow it, without openid", client: offlineApp, audience: offlineAPI.Identifier, scope: "read offline_access", wantRefresh: true},
		{name: "app allows it, API does not", client: offlineApp, audience: onlineAPI.Identifier, scope: "openid read offline_access"},
		{name: "API allows it, app does not", client: onlineApp, audience: offlineAPI.Identifier, scope: "openid read offline_access"},
		{name: "neither allows it", client: onlineApp, audience: onlineAPI.Identifier, scope: "openid read offline_access"},
		{name: "both allow it, not asked", client: offlineApp, audience: offlineAPI.Identifier, scope: "openid read"},
		{name: "app allows it, no API", client: offlineApp, scope: "openid offline_access", wantRefresh: true},
		{name: "app does not allow it, no API", client: onlineApp, scope: "openid offline_access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"scope": {tt.scope}}
			if tt.audience != "" {
				q.Set("audience", tt.audience)
			}
			tr := e.exchange(t, tt.client, e.code(t, tt.client, cookie, q), nil)
			if got := tr.RefreshToken != ""; got != tt.wantRefresh {
				t.Fatalf("refresh token issued = %v, want %v", got, tt.wantRefresh)
			}
			if got := strings.Contains(" "+tr.Scope+" ", " offline_access "); got != tt.wantRefresh {
				t.Errorf("scope %q: offline_access granted = %v, want %v", tr.Scope, got, tt.wantRefresh)
			}
			if !tt.wantRefresh {
				return
			}
			r := e.refresh(t, tt.client, tr.RefreshToken)
			if r.status != http.StatusOK {
				t.Fatalf("refresh: status %d, body %s", r.status, r.body)
			}
			checkNoStore(t, r.header)
			var next tokenResult
			if err := json.Unmarshal(r.body, &next); err != nil {
				t.Fatalf("refresh: decode %s: %v", r.body, err)
			}
			if next.RefreshToken == "" || next.RefreshToken == tr.RefreshToken {
				t.Errorf("refresh: refresh_token %q, want a new one", next.RefreshToken)
			}
			if !sameSet(next.Scope, tr.Scope) {
				t.Errorf("refresh: scope %q, want the original %q", next.Scope, tr.Scope)
			}
			if tt.audience == "" {
				if looksJWT := strings.Count(next.AccessToken, ".") == 2; looksJWT {
					t.Errorf("refresh without an API returned a JWT access token")
				}
				return
			}
			h, c := verifyJWT(t, e.jwks(t), next.AccessToken)
			if typ, _ := h.ExtraHeaders["typ"].(string); typ != "at+jwt" {
				t.Errorf("refreshed access token typ = %q, want at+jwt", typ)
			}
			if h.Algorithm != "ES256" {
				t.Errorf("refreshed access token alg = %q, want the API's ES256", h.Algorithm)
			}
			if aud := audiences(t, c["aud"]); len(aud) == 0 || aud[0] != tt.audience {
				t.Errorf("refreshed access token aud = %q, want %s first", aud, tt.audience)
			}
			if c["sub"] != user.ID || c["client_id"] != tt.client.ID || c["iss"] != e.issuer {
				t.Errorf("refreshed access token sub %v client_id %v iss %v", c["sub"], c["client_id"], c["iss"])
			}
			if s, _ := c["scope"].(string); !sameSet(s, tr.Scope) {
				t.Errorf("refreshed access token scope %q, want %q", s, tr.Scope)
			}
			if old := jwtPart(t, tr.AccessToken, 1); old["jti"] == c["jti"] {
				t.Errorf("refreshed access token reuses jti %v", c["jti"])
			}
		})
	}
}
