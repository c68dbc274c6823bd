package mfa_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// roundTrip passes a session through JSON, as a caller storing it does.
func roundTrip(t *testing.T, s mfa.Session) mfa.Session {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out mfa.Session
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// jsonPath reads a member of options JSON by path.
func jsonPath(t *testing.T, raw json.RawMessage, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func factorCount(t *testing.T, st store.Store, userID string) int {
	t.Helper()
	fs, err := st.ListFactors(t.Context(), userID)
	must(t, err, "list factors")
	return len(fs)
}

// register runs a registration ceremony to the end.
func register(t *testing.T, s *mfa.Service, u store.User, a *authenticator, passkey bool, name string) store.WebAuthnCredential {
	t.Helper()
	ch, err := s.BeginRegistration(t.Context(), u, passkey)
	must(t, err, "begin registration")
	rec, err := s.FinishRegistration(t.Context(), u.ID, roundTrip(t, ch.Session), a.register(t, ch.Options, ceremony{}), name)
	must(t, err, "finish registration")
	return rec
}

func TestNew(t *testing.T) {
	sealer, err := token.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	st := struct{ store.FactorStore }{} // never called
	for _, tt := range []struct {
		name string
		cfg  mfa.Config
	}{
		{"no store", mfa.Config{Issuer: issuer, Sealer: sealer}},
		{"no sealer", mfa.Config{Issuer: issuer, Store: st}},
		{"no issuer", mfa.Config{Store: st, Sealer: sealer}},
		{"ftp issuer", mfa.Config{Issuer: "ftp://id.example.com", Store: st, Sealer: sealer}},
		{"issuer without host", mfa.Config{Issuer: "https:///path", Store: st, Sealer: sealer}},
		{"malformed issuer", mfa.Config{Issuer: "https://id.example.com:port", Store: st, Sealer: sealer}},
		{"colon in name", mfa.Config{Issuer: issuer, Name: "Acme: login", Store: st, Sealer: sealer}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mfa.New(tt.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
	s, err := mfa.New(mfa.Config{Issuer: "https://id.example.com:8443/tenant", Store: st, Sealer: sealer})
	must(t, err, "new with a port and a path")
	if !s.WebAuthnAvailable() {
		t.Fatal("WebAuthn unavailable for a host name")
	}
}

// TestIPIssuer: an issuer on an IP address cannot be a relying party, so
// WebAuthn is off, but TOTP works.
func TestIPIssuer(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		sealer, err := token.NewSealer(make([]byte, 32))
		must(t, err, "sealer")
		s, err := mfa.New(mfa.Config{Issuer: "http://127.0.0.1:8080", Store: st, Sealer: sealer, Now: func() time.Time { return t0 }})
		must(t, err, "new")
		if s.WebAuthnAvailable() {
			t.Fatal("WebAuthn available on an IP address")
		}
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		_, err = s.BeginRegistration(ctx, ada, true)
		wantIs(t, err, mfa.ErrWebAuthnUnavailable, "begin registration")
		_, err = s.FinishRegistration(ctx, ada.ID, mfa.Session{}, []byte("{}"), "")
		wantIs(t, err, mfa.ErrWebAuthnUnavailable, "finish registration")
		_, err = s.BeginLogin(ctx, ada.ID)
		wantIs(t, err, mfa.ErrWebAuthnUnavailable, "begin login")
		_, err = s.FinishLogin(ctx, ada.ID, mfa.Session{}, []byte("{}"))
		wantIs(t, err, mfa.ErrWebAuthnUnavailable, "finish login")
		_, err = s.BeginPasskeyLogin(ctx)
		wantIs(t, err, mfa.ErrWebAuthnUnavailable, "begin passkey login")
		_, _, err = s.FinishPasskeyLogin(ctx, mfa.Session{}, []byte("{}"))
		wantIs(t, err, mfa.ErrWebAuthnUnavailable, "finish passkey login")

		key, err := s.EnrollTOTP(ctx, ada.ID, ada.Email)
		must(t, err, "enroll totp")
		if u, _ := url.Parse(key.URL); !strings.Contains(u.Query().Get("issuer"), "127.0.0.1") {
			t.Fatalf("issuer in %q, want the issuer's host by default", key.URL)
		}
		must(t, s.ConfirmTOTP(ctx, ada.ID, code(t, key.Secret, t0)), "confirm totp")
	})
}

func TestRegistration(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		clk := &clock{now: t0}
		s := newService(t, st, clk)
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		bob := newUser(t, st, "gatehouse|bob", "bob@example.com")

		ch, err := s.BeginRegistration(ctx, ada, false)
		must(t, err, "begin")
		for path, want := range map[string]any{
			"rp.id":                              rpID,
			"rp.name":                            "Gatehouse Test",
			"user.name":                          ada.Email,
			"user.displayName":                   ada.Name,
			"authenticatorSelection.residentKey": "discouraged",
			"authenticatorSelection.userVerification": "discouraged",
			"attestation":        "none",
			"excludeCredentials": nil,
		} {
			if got := jsonPath(t, ch.Options, strings.Split(path, ".")...); got != want {
				t.Errorf("options %s = %v, want %v", path, got, want)
			}
		}
		challenge, _ := b64.DecodeString(readOptions(t, ch.Options).Challenge)
		if len(challenge) < 16 {
			t.Fatalf("challenge of %d bytes", len(challenge))
		}
		handle := readOptions(t, ch.Options).User.ID

		key := newAuthenticator(t, 0, "cross-platform")
		rec, err := s.FinishRegistration(ctx, ada.ID, roundTrip(t, ch.Session), key.register(t, ch.Options, ceremony{}), "")
		must(t, err, "finish")
		want := store.WebAuthnCredential{
			ID: rec.ID, UserID: ada.ID, Type: store.FactorWebAuthnRoaming, Name: "Security key",
			CredentialID: key.credentialID, PublicKey: rec.PublicKey, AttestationType: "none", AttestationFormat: "none",
			AAGUID: key.aaguid, SignCount: 5, Transports: []string{"usb", "nfc"}, Attachment: "cross-platform",
			UserPresent: true, CreatedAt: t0,
		}
		if !strings.HasPrefix(rec.ID, "wa_") || len(rec.PublicKey) < 64 {
			t.Fatalf("credential ID %q, public key of %d bytes", rec.ID, len(rec.PublicKey))
		}
		wantCredential(t, rec, want, "returned credential")
		stored, err := st.GetWebAuthnCredential(ctx, key.credentialID)
		must(t, err, "get stored credential")
		wantCredential(t, stored, want, "stored credential")

		// The handle is stable, and the key is excluded from now on.
		ch, err = s.BeginRegistration(ctx, ada, false)
		must(t, err, "begin again")
		if got := readOptions(t, ch.Options).User.ID; got != handle {
			t.Fatalf("user handle changed from %s to %s", handle, got)
		}
		excluded, _ := jsonPath(t, ch.Options, "excludeCredentials").([]any)
		if len(excluded) != 1 || jsonPath(t, mustJSON(t, excluded[0]), "id") != b64.EncodeToString(key.credentialID) {
			t.Fatalf("excludeCredentials %v, want the registered key", excluded)
		}
		// The same authenticator is refused if the browser registers it
		// anyway.
		_, err = s.FinishRegistration(ctx, ada.ID, ch.Session, key.register(t, ch.Options, ceremony{}), "")
		wantIs(t, err, mfa.ErrCeremony, "register the same credential twice")

		// The device's own authenticator.
		laptop := newAuthenticator(t, flagUV, "platform")
		rec = register(t, s, ada, laptop, false, "Laptop")
		if rec.Type != store.FactorWebAuthnPlatform || rec.Name != "Laptop" || !rec.UserVerified {
			t.Fatalf("platform credential: %+v", rec)
		}

		// A passkey must be discoverable and verify the user.
		ch, err = s.BeginRegistration(ctx, bob, true)
		must(t, err, "begin passkey")
		for path, want := range map[string]any{
			"authenticatorSelection.residentKey":        "required",
			"authenticatorSelection.requireResidentKey": true,
			"authenticatorSelection.userVerification":   "required",
		} {
			if got := jsonPath(t, ch.Options, strings.Split(path, ".")...); got != want {
				t.Errorf("passkey options %s = %v, want %v", path, got, want)
			}
		}
		phone := newAuthenticator(t, flagUV|flagBE|flagBS, "cross-platform")
		_, err = s.FinishRegistration(ctx, bob.ID, ch.Session, phone.register(t, ch.Options, ceremony{flags: ptr[byte](flagUP | flagBE | flagBS)}), "")
		wantIs(t, err, mfa.ErrCeremony, "passkey without user verification")
		rec, err = s.FinishRegistration(ctx, bob.ID, ch.Session, phone.register(t, ch.Options, ceremony{}), "Phone")
		must(t, err, "finish passkey")
		if rec.Type != store.FactorPasskey || rec.Name != "Phone" || !rec.BackupEligible || !rec.BackupState || !rec.UserVerified {
			t.Fatalf("passkey: %+v", rec)
		}
		if n := factorCount(t, st, ada.ID); n != 2 {
			t.Fatalf("ada has %d factors, want 2", n)
		}
	})
}

// TestRegistrationRefused checks every refusal stores nothing.
func TestRegistrationRefused(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s := newService(t, st, &clock{now: t0})
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		bob := newUser(t, st, "gatehouse|bob", "bob@example.com")
		loginSession := func() mfa.Session {
			register(t, s, bob, newAuthenticator(t, 0, ""), false, "")
			ch, err := s.BeginLogin(ctx, bob.ID)
			must(t, err, "begin bob's login")
			return ch.Session
		}()

		for _, tt := range []struct {
			name     string
			c        ceremony
			userID   string                        // finishing user; ada when empty
			session  func(mfa.Session) mfa.Session // changes the session
			response func(valid []byte) []byte     // replaces the response
			passkey  bool
		}{
			{name: "wrong origin", c: ceremony{origin: "https://evil.example"}},
			{name: "origin of another port", c: ceremony{origin: "https://id.example.com:8443"}},
			{name: "http origin", c: ceremony{origin: "http://id.example.com"}},
			{name: "wrong challenge", c: ceremony{challenge: []byte("0123456789abcdef0123456789abcdef")}},
			{name: "other relying party", c: ceremony{rpID: "evil.example"}},
			{name: "get instead of create", c: ceremony{typ: "webauthn.get"}},
			{name: "user not present", c: ceremony{flags: ptr[byte](0)}},
			{name: "backup state without eligibility", c: ceremony{flags: ptr[byte](flagUP | flagBS)}},
			{name: "another user finishes", userID: bob.ID},
			{name: "login session", session: func(mfa.Session) mfa.Session { return loginSession }},
			{name: "expired session", session: func(s mfa.Session) mfa.Session {
				s.Data.Expires = time.Now().Add(-time.Second)
				return s
			}},
			{name: "session of another user's handle", session: func(s mfa.Session) mfa.Session {
				s.Data.UserID = []byte("someone else's handle")
				return s
			}},
			{name: "empty object", response: func([]byte) []byte { return []byte("{}") }},
			{name: "not JSON", response: func([]byte) []byte { return []byte("not json") }},
			{name: "id differs from rawId", response: func(b []byte) []byte {
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				m["id"] = b64.EncodeToString([]byte("another id"))
				out, _ := json.Marshal(m)
				return out
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := factorCount(t, st, ada.ID) + factorCount(t, st, bob.ID)
				ch, err := s.BeginRegistration(ctx, ada, tt.passkey)
				must(t, err, "begin")
				a := newAuthenticator(t, 0, "cross-platform")
				resp := a.register(t, ch.Options, tt.c)
				if tt.response != nil {
					resp = tt.response(resp)
				}
				session := roundTrip(t, ch.Session)
				if tt.session != nil {
					session = tt.session(session)
				}
				userID := ada.ID
				if tt.userID != "" {
					userID = tt.userID
				}
				_, err = s.FinishRegistration(ctx, userID, session, resp, "")
				wantIs(t, err, mfa.ErrCeremony, "finish")
				if after := factorCount(t, st, ada.ID) + factorCount(t, st, bob.ID); after != before {
					t.Fatalf("%d factors after a refused registration, %d before", after, before)
				}
				if _, err := st.GetWebAuthnCredential(ctx, a.credentialID); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("refused credential stored: %v", err)
				}
			})
		}
	})
}

func TestLogin(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		clk := &clock{now: t0}
		s := newService(t, st, clk)
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		bob := newUser(t, st, "gatehouse|bob", "bob@example.com")

		_, err := s.BeginLogin(ctx, ada.ID)
		wantIs(t, err, mfa.ErrNotEnrolled, "begin without credentials")

		key := newAuthenticator(t, 0, "cross-platform")
		keyRec := register(t, s, ada, key, false, "")
		phone := newAuthenticator(t, flagUV|flagBE, "platform")
		phone.count, phone.counts = 0, false // a passkey without a counter
		register(t, s, ada, phone, true, "")
		bobKey := newAuthenticator(t, 0, "cross-platform")
		register(t, s, bob, bobKey, false, "")

		ch, err := s.BeginLogin(ctx, ada.ID)
		must(t, err, "begin")
		if got := jsonPath(t, ch.Options, "userVerification"); got != "discouraged" {
			t.Errorf("userVerification %v, want discouraged", got)
		}
		if got := jsonPath(t, ch.Options, "rpId"); got != rpID {
			t.Errorf("rpId %v, want %s", got, rpID)
		}
		var allowed []string
		for _, c := range jsonPath(t, ch.Options, "allowCredentials").([]any) {
			allowed = append(allowed, c.(map[string]any)["id"].(string))
		}
		slices.Sort(allowed)
		wantAllowed := []string{b64.EncodeToString(key.credentialID), b64.EncodeToString(phone.credentialID)}
		slices.Sort(wantAllowed)
		if !slices.Equal(allowed, wantAllowed) {
			t.Fatalf("allowCredentials %v, want ada's two credentials", allowed)
		}

		clk.Set(t0.Add(time.Hour))
		resp := key.assert(t, ch.Options, ceremony{})
		rec, err := s.FinishLogin(ctx, ada.ID, roundTrip(t, ch.Session), resp)
		must(t, err, "finish")
		if rec.ID != keyRec.ID || rec.SignCount != 6 || !rec.LastUsedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("used credential: ID %s, count %d, last used %v", rec.ID, rec.SignCount, rec.LastUsedAt)
		}
		stored, err := st.GetWebAuthnCredential(ctx, key.credentialID)
		must(t, err, "get stored credential")
		if stored.SignCount != 6 || !stored.LastUsedAt.Equal(t0.Add(time.Hour)) || stored.CloneWarning {
			t.Fatalf("stored after use: count %d, last used %v, clone warning %v", stored.SignCount, stored.LastUsedAt, stored.CloneWarning)
		}

		// A passkey without a counter logs in again and again.
		for range 3 {
			ch, err := s.BeginLogin(ctx, ada.ID)
			must(t, err, "begin")
			_, err = s.FinishLogin(ctx, ada.ID, ch.Session, phone.assert(t, ch.Options, ceremony{}))
			must(t, err, "finish with a counterless passkey")
		}

		// The response replayed: the count did not advance, so the key
		// is flagged as possibly cloned and refused from then on.
		_, err = s.FinishLogin(ctx, ada.ID, ch.Session, resp)
		wantIs(t, err, mfa.ErrCloneWarning, "replay a response")
		stored, err = st.GetWebAuthnCredential(ctx, key.credentialID)
		must(t, err, "get flagged credential")
		if !stored.CloneWarning || stored.SignCount != 6 {
			t.Fatalf("after the replay: clone warning %v, count %d; want true, 6", stored.CloneWarning, stored.SignCount)
		}
		ch, err = s.BeginLogin(ctx, ada.ID)
		must(t, err, "begin")
		_, err = s.FinishLogin(ctx, ada.ID, ch.Session, key.assert(t, ch.Options, ceremony{count: ptr[uint32](100)}))
		wantIs(t, err, mfa.ErrCloneWarning, "flagged key with an advancing count")

		// A count below the stored one.
		tablet := newAuthenticator(t, 0, "cross-platform")
		tablet.count = 40
		register(t, s, bob, tablet, false, "")
		ch, err = s.BeginLogin(ctx, bob.ID)
		must(t, err, "begin")
		_, err = s.FinishLogin(ctx, bob.ID, ch.Session, tablet.assert(t, ch.Options, ceremony{count: ptr[uint32](39)}))
		wantIs(t, err, mfa.ErrCloneWarning, "lower count")
		if got, err := st.GetWebAuthnCredential(ctx, tablet.credentialID); err != nil || !got.CloneWarning || got.SignCount != 40 {
			t.Fatalf("after a lower count: %+v, %v", got, err)
		}
	})
}

func TestLoginRefused(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		s := newService(t, st, &clock{now: t0})
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		bob := newUser(t, st, "gatehouse|bob", "bob@example.com")
		key := newAuthenticator(t, 0, "cross-platform")
		register(t, s, ada, key, false, "")
		bobKey := newAuthenticator(t, 0, "cross-platform")
		register(t, s, bob, bobKey, false, "")
		stranger := newAuthenticator(t, 0, "cross-platform")
		stranger.handle = []byte("stranger")
		otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(t, err, "key")
		bobHandle, err := st.WebAuthnUserHandle(ctx, bob.ID, nil)
		must(t, err, "bob's handle")

		for _, tt := range []struct {
			name    string
			a       *authenticator
			c       ceremony
			userID  string
			session func(ada, bob, passkey mfa.Session) mfa.Session
		}{
			{name: "wrong origin", c: ceremony{origin: "https://evil.example"}},
			{name: "wrong challenge", c: ceremony{challenge: []byte("0123456789abcdef0123456789abcdef")}},
			{name: "challenge of another session", session: func(mfa.Session, mfa.Session, mfa.Session) mfa.Session {
				ch, err := s.BeginLogin(ctx, ada.ID)
				must(t, err, "begin another login of ada's")
				return ch.Session
			}},
			{name: "other relying party", c: ceremony{rpID: "evil.example"}},
			{name: "create instead of get", c: ceremony{typ: "webauthn.create"}},
			{name: "signed with another key", c: ceremony{signWith: otherKey}},
			{name: "user not present", c: ceremony{flags: ptr[byte](0)}},
			{name: "backup eligibility changed", c: ceremony{flags: ptr[byte](flagUP | flagBE)}},
			{name: "another user's key", a: bobKey},
			{name: "unregistered key", a: stranger},
			{name: "another user's handle", c: ceremony{handle: bobHandle}},
			{name: "another user finishes", userID: bob.ID},
			{name: "bob's session", session: func(_, bob, _ mfa.Session) mfa.Session { return bob }},
			{name: "passkey session", session: func(_, _, passkey mfa.Session) mfa.Session { return passkey }},
			{name: "expired session", session: func(ada, _, _ mfa.Session) mfa.Session {
				ada.Data.Expires = time.Now().Add(-time.Second)
				return ada
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before, err := st.GetWebAuthnCredential(ctx, key.credentialID)
				must(t, err, "get key")
				adaCh, err := s.BeginLogin(ctx, ada.ID)
				must(t, err, "begin ada's login")
				bobCh, err := s.BeginLogin(ctx, bob.ID)
				must(t, err, "begin bob's login")
				pkCh, err := s.BeginPasskeyLogin(ctx)
				must(t, err, "begin passkey login")
				a := key
				if tt.a != nil {
					a = tt.a
				}
				session := roundTrip(t, adaCh.Session)
				if tt.session != nil {
					session = tt.session(session, bobCh.Session, pkCh.Session)
				}
				userID := ada.ID
				if tt.userID != "" {
					userID = tt.userID
				}
				_, err = s.FinishLogin(ctx, userID, session, a.assert(t, adaCh.Options, tt.c))
				wantIs(t, err, mfa.ErrCeremony, "finish")
				after, err := st.GetWebAuthnCredential(ctx, key.credentialID)
				must(t, err, "get key")
				if after.SignCount != before.SignCount || !after.LastUsedAt.Equal(before.LastUsedAt) || after.CloneWarning {
					t.Fatalf("a refused login changed the key: %+v", after)
				}
			})
		}
	})
}

func TestPasskeyLogin(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		clk := &clock{now: t0}
		s := newService(t, st, clk)
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		bob := newUser(t, st, "gatehouse|bob", "bob@example.com")
		adaPasskey := newAuthenticator(t, flagUV|flagBE|flagBS, "platform")
		register(t, s, ada, adaPasskey, true, "")
		bobPasskey := newAuthenticator(t, flagUV, "cross-platform")
		bobPasskey.count, bobPasskey.counts = 0, false
		register(t, s, bob, bobPasskey, true, "")
		// A discoverable key registered as a second factor.
		adaKey := newAuthenticator(t, flagUV, "cross-platform")
		register(t, s, ada, adaKey, false, "")

		ch, err := s.BeginPasskeyLogin(ctx)
		must(t, err, "begin")
		if got := jsonPath(t, ch.Options, "allowCredentials"); got != nil {
			t.Errorf("allowCredentials %v: a passkey login names no user", got)
		}
		if got := jsonPath(t, ch.Options, "userVerification"); got != "required" {
			t.Errorf("userVerification %v, want required", got)
		}
		clk.Set(t0.Add(time.Minute))
		userID, rec, err := s.FinishPasskeyLogin(ctx, roundTrip(t, ch.Session), adaPasskey.assert(t, ch.Options, ceremony{}))
		must(t, err, "finish ada's")
		if userID != ada.ID || rec.Type != store.FactorPasskey || rec.SignCount != 6 || !rec.LastUsedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("passkey login: user %q, credential %+v", userID, rec)
		}
		for range 2 {
			ch, err := s.BeginPasskeyLogin(ctx)
			must(t, err, "begin")
			userID, _, err := s.FinishPasskeyLogin(ctx, ch.Session, bobPasskey.assert(t, ch.Options, ceremony{}))
			must(t, err, "finish bob's")
			if userID != bob.ID {
				t.Fatalf("bob's passkey logs in %q", userID)
			}
		}

		adaHandle, err := st.WebAuthnUserHandle(ctx, ada.ID, nil)
		must(t, err, "ada's handle")
		for _, tt := range []struct {
			name    string
			a       *authenticator
			c       ceremony
			session func(login mfa.Session) mfa.Session
		}{
			{name: "no user handle", c: ceremony{noHandle: true}},
			{name: "unknown user handle", c: ceremony{handle: []byte("nobody's handle")}},
			{name: "another user's handle", a: bobPasskey, c: ceremony{handle: adaHandle}},
			{name: "key registered as a second factor", a: adaKey},
			{name: "user not verified", c: ceremony{flags: ptr[byte](flagUP | flagBE | flagBS)}},
			{name: "wrong origin", c: ceremony{origin: "https://evil.example"}},
			{name: "signed with another key", a: adaPasskey, c: ceremony{signWith: bobPasskey.key}},
			{name: "second-factor session", session: func(mfa.Session) mfa.Session {
				ch, err := s.BeginLogin(ctx, ada.ID)
				must(t, err, "begin ada's login")
				return ch.Session
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ch, err := s.BeginPasskeyLogin(ctx)
				must(t, err, "begin")
				a := adaPasskey
				if tt.a != nil {
					a = tt.a
				}
				session := ch.Session
				if tt.session != nil {
					session = tt.session(session)
				}
				userID, _, err := s.FinishPasskeyLogin(ctx, session, a.assert(t, ch.Options, tt.c))
				wantIs(t, err, mfa.ErrCeremony, "finish")
				if userID != "" {
					t.Fatalf("refused login names user %q", userID)
				}
			})
		}
		// The second-factor key still works as a second factor.
		ch, err = s.BeginLogin(ctx, ada.ID)
		must(t, err, "begin ada's second factor")
		_, err = s.FinishLogin(ctx, ada.ID, ch.Session, adaKey.assert(t, ch.Options, ceremony{}))
		must(t, err, "second factor with the key")
	})
}

// TestSessionIsJSON checks a session survives the JSON a caller stores it
// as, with its challenge and expiry.
func TestSessionIsJSON(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		s := newService(t, st, &clock{now: t0})
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		ch, err := s.BeginRegistration(t.Context(), ada, true)
		must(t, err, "begin")
		b, err := json.Marshal(ch.Session)
		must(t, err, "marshal")
		var back mfa.Session
		must(t, json.Unmarshal(b, &back), "unmarshal")
		if back.Data.Challenge != readOptions(t, ch.Options).Challenge || back.Data.Challenge == "" ||
			!back.Data.Expires.Equal(ch.Session.Data.Expires) || back.Data.Expires.IsZero() ||
			!back.Passkey || back.UserID != ada.ID || !bytes.Equal(back.Data.UserID, ch.Session.Data.UserID) {
			t.Fatalf("session after JSON: %+v\nbefore: %+v", back, ch.Session)
		}
		if until := time.Until(back.Data.Expires); until < 4*time.Minute || until > 5*time.Minute {
			t.Fatalf("session expires in %v, want 5 minutes", until)
		}
	})
}

func TestReadResponse(t *testing.T) {
	valid := `{"id":"abc","type":"public-key"}`
	for _, tt := range []struct {
		name string
		body string
		ok   bool
	}{
		{"json", valid, true},
		{"empty", "", false},
		{"not json", "id=abc", false},
		{"too large", `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/u/mfa/webauthn", strings.NewReader(tt.body))
			got, err := mfa.ReadResponse(r)
			if tt.ok {
				must(t, err, "read")
				if string(got) != tt.body {
					t.Fatalf("read %q, want %q", got, tt.body)
				}
				return
			}
			wantIs(t, err, mfa.ErrCeremony, "read")
		})
	}
}

func TestFormResponse(t *testing.T) {
	valid := `{"id":"abc","type":"public-key"}`
	for _, tt := range []struct {
		name string
		form url.Values
		ok   bool
	}{
		{"field", url.Values{"response": {valid}, "csrf": {"x"}}, true},
		{"missing", url.Values{"csrf": {"x"}}, false},
		{"empty", url.Values{"response": {""}}, false},
		{"not json", url.Values{"response": {"{"}}, false},
		{"too large", url.Values{"response": {`"` + strings.Repeat("a", 70<<10) + `"`}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/u/mfa/webauthn", strings.NewReader(tt.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			got, err := mfa.FormResponse(r, "response")
			if tt.ok {
				must(t, err, "read")
				if string(got) != valid {
					t.Fatalf("read %q, want %q", got, valid)
				}
				return
			}
			wantIs(t, err, mfa.ErrCeremony, "read")
		})
	}
	// The field is read from the body only, not the query string.
	r := httptest.NewRequest(http.MethodPost, "/u/mfa/webauthn?response="+url.QueryEscape(valid), strings.NewReader(""))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := mfa.FormResponse(r, "response")
	wantIs(t, err, mfa.ErrCeremony, "response in the query string")
}

// End to end: a registration response read from a form post, as the
// hosted page sends it, finishes the ceremony.
func TestFormPostRegistration(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		s := newService(t, st, &clock{now: t0})
		ada := newUser(t, st, "gatehouse|ada", "ada@example.com")
		ch, err := s.BeginRegistration(t.Context(), ada, false)
		must(t, err, "begin")
		form := url.Values{"response": {string(newAuthenticator(t, 0, "cross-platform").register(t, ch.Options, ceremony{}))}, "name": {"Blue key"}}
		r := httptest.NewRequest(http.MethodPost, "/u/mfa/webauthn", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := mfa.FormResponse(r, "response")
		must(t, err, "read the form")
		rec, err := s.FinishRegistration(t.Context(), ada.ID, ch.Session, resp, r.PostForm.Get("name"))
		must(t, err, "finish")
		if rec.Name != "Blue key" {
			t.Fatalf("name %q", rec.Name)
		}
	})
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantCredential compares a credential with want, times by instant.
func wantCredential(t *testing.T, got, want store.WebAuthnCredential, op string) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.LastUsedAt.Equal(want.LastUsedAt) {
		t.Fatalf("%s: created %v last used %v, want %v and %v", op, got.CreatedAt, got.LastUsedAt, want.CreatedAt, want.LastUsedAt)
	}
	got.CreatedAt, got.LastUsedAt = want.CreatedAt, want.LastUsedAt
	gj, wj := mustJSON(t, got), mustJSON(t, want)
	if !bytes.Equal(gj, wj) {
		t.Fatalf("%s:\n got %s\nwant %s", op, gj, wj)
	}
}

func TestWebAuthnAMR(t *testing.T) {
	for _, tt := range []struct {
		c    store.WebAuthnCredential
		want string
	}{
		{store.WebAuthnCredential{Type: store.FactorWebAuthnRoaming}, "hwk"},
		{store.WebAuthnCredential{Type: store.FactorPasskey, Attachment: "cross-platform"}, "hwk"},
		{store.WebAuthnCredential{Type: store.FactorPasskey, BackupEligible: true}, "swk"},
		{store.WebAuthnCredential{Type: store.FactorWebAuthnPlatform, BackupEligible: true, BackupState: true}, "swk"},
	} {
		if got := mfa.WebAuthnAMR(tt.c); got != tt.want {
			t.Errorf("WebAuthnAMR(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}
