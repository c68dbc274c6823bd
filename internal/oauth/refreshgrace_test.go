package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/oauth"
)

// TestRefreshGracePeriod covers the rotation grace period through the
// token endpoint: a retry of the previous refresh token within it gets the
// same successor and a working access token; a retry after it, or after
// the successor was used, is a reuse that revokes the family.
func TestRefreshGracePeriod(t *testing.T) {
	const grace = 30 * time.Second
	e := newEnvWith(t, func(c *oauth.Config) { c.RefreshGracePeriod = grace })
	c := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	_, _, cookie := e.login(t)
	start := func(t *testing.T) tokenResult {
		t.Helper()
		return e.exchange(t, c, e.code(t, c, cookie, url.Values{"scope": {"openid offline_access"}}), nil)
	}
	ok := func(t *testing.T, rt string) tokenResult {
		t.Helper()
		r := e.refresh(t, c, rt)
		if r.status != http.StatusOK {
			t.Fatalf("refresh: status %d, body %s", r.status, r.body)
		}
		var tr tokenResult
		if err := json.Unmarshal(r.body, &tr); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	refused := func(t *testing.T, rt string) {
		t.Helper()
		checkError(t, e.refresh(t, c, rt), http.StatusBadRequest, "invalid_grant")
	}

	t.Run("retry gets the same successor", func(t *testing.T) {
		first := start(t)
		a := ok(t, first.RefreshToken)
		e.clock.Advance(10 * time.Second)
		b := ok(t, first.RefreshToken)
		if b.RefreshToken != a.RefreshToken {
			t.Fatalf("retry within the grace period: a new refresh token, want the same successor")
		}
		if b.AccessToken == a.AccessToken || b.IDToken == "" {
			t.Errorf("retry: want a fresh access token and an ID token")
		}
		e.wantUserinfo(t, a.AccessToken)
		e.wantUserinfo(t, b.AccessToken)
		// The successor rotates as usual, and then the chain has moved
		// on: the first token is a reuse even within the grace period.
		next := ok(t, b.RefreshToken)
		refused(t, first.RefreshToken)
		refused(t, next.RefreshToken) // the family is revoked
		if r := userinfoGET(t, e, next.AccessToken); r.status == http.StatusOK {
			t.Errorf("an access token of the revoked family still works")
		}
	})
	t.Run("retry after the grace period revokes the family", func(t *testing.T) {
		first := start(t)
		a := ok(t, first.RefreshToken)
		e.clock.Advance(grace + time.Second)
		refused(t, first.RefreshToken)
		refused(t, a.RefreshToken)
	})
	t.Run("retry with a narrower scope", func(t *testing.T) {
		first := start(t)
		a := ok(t, first.RefreshToken)
		r := e.tokenReq(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken},
			"client_id": {c.ID}, "client_secret": {c.Secret}, "scope": {"openid"}}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("retry with scope: status %d, body %s", r.status, r.body)
		}
		if got := decodeJSON(t, r); got["refresh_token"] != a.RefreshToken || got["scope"] != "openid" {
			t.Errorf("retry with scope openid: refresh_token same = %v, scope %v", got["refresh_token"] == a.RefreshToken, got["scope"])
		}
	})
	t.Run("another client's retry", func(t *testing.T) {
		first := start(t)
		ok(t, first.RefreshToken)
		other := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
		checkError(t, e.refresh(t, other, first.RefreshToken), http.StatusBadRequest, "invalid_grant")
	})

	strict := newEnv(t) // no grace period: strict single use
	sc := strict.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
	t.Run("without a grace period a retry is a reuse", func(t *testing.T) {
		_, _, cookie := strict.login(t)
		first := strict.exchange(t, sc, strict.code(t, sc, cookie, url.Values{"scope": {"openid offline_access"}}), nil)
		r := strict.refresh(t, sc, first.RefreshToken)
		if r.status != http.StatusOK {
			t.Fatalf("refresh: status %d", r.status)
		}
		checkError(t, strict.refresh(t, sc, first.RefreshToken), http.StatusBadRequest, "invalid_grant")
		checkError(t, strict.refresh(t, sc, decodeJSON(t, r)["refresh_token"].(string)), http.StatusBadRequest, "invalid_grant")
	})
}

// logRecords is a slog.Handler that keeps every record, to check what the
// provider logs.
type logRecords struct {
	mu      sync.Mutex // guards records
	records []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// take returns the records so far and forgets them.
func (l *logRecords) take() []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.records
	l.records = nil
	return r
}

// TestTokenRaces presents one code, or one refresh token, 50 times at once
// through the token endpoint, round after round: exactly one code
// redemption wins; every refresh gets the one successor within the grace
// period, exactly one wins without it; no round ends without a winner. The
// 49 losers of a round log one INFO line between them, never a warning.
func TestTokenRaces(t *testing.T) {
	const n, rounds = 50, 30
	for _, grace := range []time.Duration{30 * time.Second, 0} {
		t.Run(fmt.Sprintf("grace %v", grace), func(t *testing.T) {
			logs := &logRecords{}
			e := newEnvWith(t, func(c *oauth.Config) {
				c.RefreshGracePeriod = grace
				c.Log = slog.New(logs)
			})
			c := e.newClient(t, oauth.NewClientParams{FirstParty: true, AllowOfflineAccess: true})
			_, _, cookie := e.login(t)
			post := func(form url.Values) (int, tokenResult, error) {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
				if err != nil {
					return 0, tokenResult{}, err
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := e.http.Do(req)
				if err != nil {
					return 0, tokenResult{}, err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					return 0, tokenResult{}, err
				}
				var tr tokenResult
				if resp.StatusCode == http.StatusOK {
					err = json.Unmarshal(body, &tr)
				} else if !strings.Contains(string(body), `"invalid_grant"`) {
					err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
				}
				return resp.StatusCode, tr, err
			}
			// raceForm posts form n times at once and returns the
			// successful responses.
			raceForm := func(t *testing.T, round int, form url.Values) []tokenResult {
				t.Helper()
				var mu sync.Mutex // guards won, errs
				var won []tokenResult
				var errs []error
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						<-start
						status, tr, err := post(form)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							errs = append(errs, err)
						} else if status == http.StatusOK {
							won = append(won, tr)
						}
					})
				}
				close(start)
				wg.Wait()
				if len(errs) > 0 {
					t.Fatalf("round %d: %d requests failed other than with invalid_grant, first: %v", round, len(errs), errs[0])
				}
				return won
			}
			checkLogs := func(t *testing.T, round int, what string, wantReuseLine bool) {
				t.Helper()
				reuse := 0
				for _, r := range logs.take() {
					if r.Level >= slog.LevelWarn {
						t.Errorf("round %d (%s): logged at %v: %s", round, what, r.Level, r.Message)
					}
					if strings.Contains(r.Message, "reused") {
						reuse++
					}
				}
				if reuse > 1 || (wantReuseLine && reuse != 1) {
					t.Errorf("round %d (%s): %d lines about the reuse, want %d", round, what, reuse, map[bool]int{true: 1, false: 0}[wantReuseLine])
				}
			}

			for round := range rounds {
				code := e.code(t, c, cookie, url.Values{"scope": {"openid offline_access"}})
				logs.take()
				won := raceForm(t, round, url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {c.Callbacks[0]}, "client_id": {c.ID}, "client_secret": {c.Secret}})
				if len(won) != 1 {
					t.Fatalf("round %d: %d of %d redemptions of one code won, want exactly 1", round, len(won), n)
				}
				checkLogs(t, round, "code", true)

				// The winner's tokens were revoked by the losers' reuse
				// (RFC 6749 §4.1.2); start a family from a fresh code.
				first := e.exchange(t, c, e.code(t, c, cookie, url.Values{"scope": {"openid offline_access"}}), nil)
				logs.take()
				won = raceForm(t, round, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken},
					"client_id": {c.ID}, "client_secret": {c.Secret}})
				if grace == 0 {
					if len(won) != 1 {
						t.Fatalf("round %d: %d of %d rotations won without a grace period, want exactly 1", round, len(won), n)
					}
					checkLogs(t, round, "strict refresh", true)
					continue
				}
				if len(won) != n {
					t.Fatalf("round %d: %d of %d refreshes succeeded within the grace period, want all", round, len(won), n)
				}
				for _, tr := range won {
					if tr.RefreshToken != won[0].RefreshToken {
						t.Fatalf("round %d: refreshes within the grace period got different refresh tokens", round)
					}
				}
				checkLogs(t, round, "refresh", false)
				// Every client ends with one working token.
				e.wantUserinfo(t, won[n-1].AccessToken)
				if r := e.refresh(t, c, won[0].RefreshToken); r.status != http.StatusOK {
					t.Fatalf("round %d: the shared successor: status %d, body %s", round, r.status, r.body)
				}
			}
		})
	}
}
