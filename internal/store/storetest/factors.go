package storetest

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// The suite pins these behaviours of the FactorStore besides its comments:
//   - every factor's times come back in UTC, LastUsedAt zero until a use;
//   - Factor.Confirmed is true for recovery codes and WebAuthn credentials;
//     a recovery-code factor's Name is empty;
//   - ListFactors and ListWebAuthnCredentials order by CreatedAt, then ID
//     in byte order;
//   - a TOTP factor's LastStep starts at 0, and ConfirmTOTP sets it;
//   - DeleteUser takes every factor and the user handle with it, and a user
//     created again with the ID has none; LinkUsers removes the secondary's
//     and keeps the primary's.

// testFactors runs the factor subtests, each with users of its own, on one
// store.
func testFactors(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"TOTP", testTOTPFactor},
		{"RecoveryCodes", testRecoveryCodes},
		{"UserHandle", testWebAuthnUserHandle},
		{"WebAuthnCredentials", testWebAuthnCredentials},
		{"RecordWebAuthnUse", testRecordWebAuthnUse},
		{"ListDelete", testListDeleteFactors},
		{"DeleteUser", testFactorsDeleteUser},
		{"LinkUsers", testFactorsLinkUsers},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

// factorUser creates a user whose ID names the subtest, so that subtests on
// one store never share a user.
func factorUser(t *testing.T, s store.Store, name string) string {
	t.Helper()
	u := newUser("gatehouse|"+name, name+"@example.com")
	must(t, s.CreateUser(t.Context(), u), "create user "+name)
	return u.ID
}

func newTOTPFactor(id, userID string) store.TOTPFactor {
	return store.TOTPFactor{
		ID:           id,
		UserID:       userID,
		Name:         "Authenticator app — ünïcødé",
		SecretSealed: []byte("sealed\x00\xff" + id),
		CreatedAt:    t0.In(elsewhere),
	}
}

// newWebAuthnCredential returns a credential with every field set.
func newWebAuthnCredential(id, userID string, credentialID string) store.WebAuthnCredential {
	return store.WebAuthnCredential{
		ID:                id,
		UserID:            userID,
		Type:              store.FactorPasskey,
		Name:              "YubiKey — ünïcødé " + id,
		CredentialID:      []byte("cred\x00\xff" + credentialID),
		PublicKey:         []byte("\xa5\x01\x02\x03\x26" + id),
		AttestationType:   "none",
		AttestationFormat: "packed",
		AAGUID:            []byte("0123456789abcdef"),
		SignCount:         4_000_000_000, // above the int32 range
		Transports:        []string{"usb", "nfc", "hybrid"},
		Attachment:        "cross-platform",
		UserPresent:       true,
		UserVerified:      true,
		BackupEligible:    true,
		BackupState:       false,
		CreatedAt:         t0.In(elsewhere),
	}
}

func testTOTPFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := factorUser(t, s, "totp-ada")
	bob := factorUser(t, s, "totp-bob")

	wantErr(t, s.EnrollTOTP(ctx, newTOTPFactor("totp-x", "gatehouse|nobody")), store.ErrNotFound, "enroll unknown user")
	_, err := s.GetTOTP(ctx, ada)
	wantErr(t, err, store.ErrNotFound, "get totp before enrollment")
	wantErr(t, s.UseTOTPStep(ctx, ada, 100, t0), store.ErrNotFound, "use step without a factor")

	first := newTOTPFactor("totp-1", ada)
	first.Confirmed, first.LastStep = true, 99 // ignored: an enrollment starts unconfirmed
	must(t, s.EnrollTOTP(ctx, first), "enroll")
	first.Confirmed, first.LastStep = false, 0
	got, err := s.GetTOTP(ctx, ada)
	must(t, err, "get pending totp")
	wantEqual(t, got, first, "pending totp")
	wantErr(t, s.UseTOTPStep(ctx, ada, 100, t0), store.ErrNotFound, "use step of an unconfirmed factor")

	// Enrolling again replaces the pending factor.
	second := newTOTPFactor("totp-2", ada)
	second.SecretSealed = []byte("another secret")
	second.CreatedAt = t0.Add(time.Minute).In(elsewhere)
	must(t, s.EnrollTOTP(ctx, second), "enroll again")
	got, err = s.GetTOTP(ctx, ada)
	must(t, err, "get replaced totp")
	wantEqual(t, got, second, "replaced totp")
	wantErr(t, s.ConfirmTOTP(ctx, ada, first.ID, 100), store.ErrNotFound, "confirm the replaced factor")
	wantErr(t, s.ConfirmTOTP(ctx, bob, second.ID, 100), store.ErrNotFound, "confirm another user's factor")

	must(t, s.ConfirmTOTP(ctx, ada, second.ID, 100), "confirm")
	wantErr(t, s.ConfirmTOTP(ctx, ada, second.ID, 101), store.ErrNotFound, "confirm twice")
	second.Confirmed, second.LastStep = true, 100
	got, err = s.GetTOTP(ctx, ada)
	must(t, err, "get confirmed totp")
	wantEqual(t, got, second, "confirmed totp")

	// The confirming code, and any older one, is spent.
	for _, step := range []int64{100, 99, 1} {
		wantErr(t, s.UseTOTPStep(ctx, ada, step, t0), store.ErrAlreadyUsed, fmt.Sprintf("use step %d", step))
	}
	used := t0.Add(time.Hour)
	must(t, s.UseTOTPStep(ctx, ada, 101, used.In(elsewhere)), "use the next step")
	wantErr(t, s.UseTOTPStep(ctx, ada, 101, used), store.ErrAlreadyUsed, "replay step 101")
	wantErr(t, s.UseTOTPStep(ctx, bob, 102, used), store.ErrNotFound, "use step for a user without a factor")
	second.LastStep, second.LastUsedAt = 101, used
	got, err = s.GetTOTP(ctx, ada)
	must(t, err, "get used totp")
	wantEqual(t, got, second, "used totp")

	// A confirmed factor is not replaced by a new enrollment.
	wantErr(t, s.EnrollTOTP(ctx, newTOTPFactor("totp-3", ada)), store.ErrConflict, "enroll over a confirmed factor")
	got, err = s.GetTOTP(ctx, ada)
	must(t, err, "get totp after refused enrollment")
	wantEqual(t, got, second, "totp after refused enrollment")
	// Another user cannot take the factor ID.
	wantErr(t, s.EnrollTOTP(ctx, newTOTPFactor(second.ID, bob)), store.ErrConflict, "enroll with a taken ID")

	wantFactors(t, s, ada, []store.Factor{{
		ID: second.ID, UserID: ada, Type: store.FactorTOTP, Name: second.Name, Confirmed: true,
		CreatedAt: second.CreatedAt, LastUsedAt: used,
	}}, "totp factors")
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := factorUser(t, s, "rc-ada")
	bob := factorUser(t, s, "rc-bob")

	wantErr(t, s.SetRecoveryCodes(ctx, "gatehouse|nobody", "rc-x", []string{"h"}, t0), store.ErrNotFound, "set codes of an unknown user")
	_, err := s.UseRecoveryCode(ctx, ada, "h1", t0)
	wantErr(t, err, store.ErrNotFound, "use a code before any")

	must(t, s.SetRecoveryCodes(ctx, ada, "rc-1", []string{"h1", "h2", "h3"}, t0.In(elsewhere)), "set codes")
	must(t, s.SetRecoveryCodes(ctx, bob, "rc-bob", []string{"b1", "h9"}, t0), "set bob's codes")
	wantFactors(t, s, ada, []store.Factor{{
		ID: "rc-1", UserID: ada, Type: store.FactorRecoveryCode, Confirmed: true, RecoveryCodesLeft: 3, CreatedAt: t0,
	}}, "new codes")

	used := t0.Add(time.Minute)
	left, err := s.UseRecoveryCode(ctx, ada, "h2", used.In(elsewhere))
	must(t, err, "use a code")
	if left != 2 {
		t.Fatalf("codes left after one use = %d, want 2", left)
	}
	_, err = s.UseRecoveryCode(ctx, ada, "h2", used)
	wantErr(t, err, store.ErrAlreadyUsed, "use a code twice")
	_, err = s.UseRecoveryCode(ctx, ada, "h4", used)
	wantErr(t, err, store.ErrNotFound, "use an unknown code")
	_, err = s.UseRecoveryCode(ctx, ada, "b1", used)
	wantErr(t, err, store.ErrNotFound, "use another user's code")
	_, err = s.UseRecoveryCode(ctx, bob, "h1", used)
	wantErr(t, err, store.ErrNotFound, "bob uses ada's code")
	wantFactors(t, s, ada, []store.Factor{{
		ID: "rc-1", UserID: ada, Type: store.FactorRecoveryCode, Confirmed: true, RecoveryCodesLeft: 2,
		CreatedAt: t0, LastUsedAt: used,
	}}, "codes after a use")

	// New codes replace every old one, used or not.
	wantErr(t, s.SetRecoveryCodes(ctx, ada, "rc-bob", []string{"h5"}, t0), store.ErrConflict, "set codes with another factor's ID")
	must(t, s.SetRecoveryCodes(ctx, ada, "rc-2", []string{"h4", "h5"}, used), "replace codes")
	for _, h := range []string{"h1", "h2", "h3"} {
		_, err := s.UseRecoveryCode(ctx, ada, h, used)
		wantErr(t, err, store.ErrNotFound, "use replaced code "+h)
	}
	for i, h := range []string{"h4", "h5"} {
		left, err := s.UseRecoveryCode(ctx, ada, h, used)
		must(t, err, "use new code "+h)
		if left != 1-i {
			t.Fatalf("codes left after using %s = %d, want %d", h, left, 1-i)
		}
	}
	wantFactors(t, s, ada, []store.Factor{{
		ID: "rc-2", UserID: ada, Type: store.FactorRecoveryCode, Confirmed: true, CreatedAt: used, LastUsedAt: used,
	}}, "spent codes")
	// Bob's are untouched.
	left, err = s.UseRecoveryCode(ctx, bob, "h9", used)
	must(t, err, "bob uses his code")
	if left != 1 {
		t.Fatalf("bob's codes left = %d, want 1", left)
	}
}

func testWebAuthnUserHandle(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := factorUser(t, s, "handle-ada")
	bob := factorUser(t, s, "handle-bob")

	_, err := s.WebAuthnUserHandle(ctx, "gatehouse|nobody", []byte("h-nobody"))
	wantErr(t, err, store.ErrNotFound, "handle of an unknown user")
	_, err = s.UserIDByWebAuthnHandle(ctx, []byte("h-nobody"))
	wantErr(t, err, store.ErrNotFound, "user of an unstored handle")

	first := []byte("\x00\xffada-handle")
	got, err := s.WebAuthnUserHandle(ctx, ada, first)
	must(t, err, "first handle")
	wantEqual(t, got, first, "first handle")
	got, err = s.WebAuthnUserHandle(ctx, ada, []byte("another"))
	must(t, err, "handle again")
	wantEqual(t, got, first, "handle is stable")
	id, err := s.UserIDByWebAuthnHandle(ctx, first)
	must(t, err, "user by handle")
	wantEqual(t, id, ada, "user by handle")
	_, err = s.UserIDByWebAuthnHandle(ctx, []byte("another"))
	wantErr(t, err, store.ErrNotFound, "user by a handle that was not stored")

	_, err = s.WebAuthnUserHandle(ctx, bob, first)
	wantErr(t, err, store.ErrConflict, "bob takes ada's handle")
	got, err = s.WebAuthnUserHandle(ctx, bob, []byte("bob-handle"))
	must(t, err, "bob's handle")
	wantEqual(t, got, []byte("bob-handle"), "bob's handle")
}

func testWebAuthnCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := factorUser(t, s, "wa-ada")
	bob := factorUser(t, s, "wa-bob")

	key := newWebAuthnCredential("wa-1", ada, "key")
	must(t, s.AddWebAuthnCredential(ctx, key), "add credential")
	got, err := s.GetWebAuthnCredential(ctx, key.CredentialID)
	must(t, err, "get credential")
	wantEqual(t, got, key, "credential")

	// Empty optional fields come back empty.
	bare := store.WebAuthnCredential{ID: "wa-2", UserID: ada, Type: store.FactorWebAuthnRoaming,
		CredentialID: []byte("bare"), PublicKey: []byte("pk"), CreatedAt: t0.Add(time.Second),
		LastUsedAt: t0.Add(time.Minute)}
	must(t, s.AddWebAuthnCredential(ctx, bare), "add bare credential")
	got, err = s.GetWebAuthnCredential(ctx, bare.CredentialID)
	must(t, err, "get bare credential")
	wantEqual(t, got, bare, "bare credential")

	dupCred := newWebAuthnCredential("wa-3", bob, "key")
	wantErr(t, s.AddWebAuthnCredential(ctx, dupCred), store.ErrConflict, "add a taken credential ID")
	wantErr(t, s.AddWebAuthnCredential(ctx, newWebAuthnCredential("wa-1", bob, "other")), store.ErrConflict, "add a taken factor ID")
	wantErr(t, s.AddWebAuthnCredential(ctx, newWebAuthnCredential("wa-4", "gatehouse|nobody", "nobody")), store.ErrNotFound, "add for an unknown user")
	notWebAuthn := newWebAuthnCredential("wa-5", bob, "totp")
	notWebAuthn.Type = store.FactorTOTP
	if err := s.AddWebAuthnCredential(ctx, notWebAuthn); err == nil {
		t.Fatal("add a credential of type totp: no error")
	}
	_, err = s.GetWebAuthnCredential(ctx, []byte("cred\x00\xffother"))
	wantErr(t, err, store.ErrNotFound, "get a refused credential")
	_, err = s.GetWebAuthnCredential(ctx, []byte("nope"))
	wantErr(t, err, store.ErrNotFound, "get an unknown credential")

	// Listed by CreatedAt, then ID.
	later := newWebAuthnCredential("wa-0", ada, "later")
	later.Type, later.Attachment = store.FactorWebAuthnPlatform, "platform"
	later.CreatedAt = t0.Add(time.Hour).In(elsewhere)
	tie := newWebAuthnCredential("wa-00", ada, "tie")
	must(t, s.AddWebAuthnCredential(ctx, later), "add later credential")
	must(t, s.AddWebAuthnCredential(ctx, tie), "add credential created with the first")
	list, err := s.ListWebAuthnCredentials(ctx, ada)
	must(t, err, "list credentials")
	wantEqual(t, list, []store.WebAuthnCredential{tie, key, bare, later}, "credentials")
	list, err = s.ListWebAuthnCredentials(ctx, bob)
	must(t, err, "list bob's credentials")
	wantEqual(t, list, nil, "bob's credentials")
	list, err = s.ListWebAuthnCredentials(ctx, "gatehouse|nobody")
	must(t, err, "list credentials of an unknown user")
	wantEqual(t, list, nil, "credentials of an unknown user")
}

func testRecordWebAuthnUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := factorUser(t, s, "use-ada")
	key := newWebAuthnCredential("use-1", ada, "counted")
	key.SignCount, key.BackupState, key.UserVerified = 7, false, false
	must(t, s.AddWebAuthnCredential(ctx, key), "add counted credential")
	zero := newWebAuthnCredential("use-2", ada, "zero")
	zero.SignCount = 0
	must(t, s.AddWebAuthnCredential(ctx, zero), "add credential without a counter")

	at := t0.Add(time.Hour)
	must(t, s.RecordWebAuthnUse(ctx, key.CredentialID, store.WebAuthnUse{
		SignCount: 8, UserPresent: true, UserVerified: true, BackupEligible: true, BackupState: true, At: at.In(elsewhere),
	}), "record a use")
	key.SignCount, key.UserVerified, key.BackupState, key.LastUsedAt = 8, true, true, at
	wantCredential(t, s, key, "after a use")

	// A count that does not advance is refused and flags the credential,
	// whatever else the use says.
	for _, count := range []uint32{8, 3, 0} {
		err := s.RecordWebAuthnUse(ctx, key.CredentialID, store.WebAuthnUse{SignCount: count, At: at.Add(time.Hour)})
		wantErr(t, err, store.ErrAlreadyUsed, fmt.Sprintf("record count %d after 8", count))
	}
	key.CloneWarning = true
	wantCredential(t, s, key, "after a count that did not advance")
	// The warning stays after a count that advances again.
	must(t, s.RecordWebAuthnUse(ctx, key.CredentialID, store.WebAuthnUse{SignCount: 9, UserPresent: true,
		BackupEligible: true, At: at.Add(2 * time.Hour)}), "record count 9")
	key.SignCount, key.UserVerified, key.BackupState, key.LastUsedAt = 9, false, false, at.Add(2*time.Hour)
	wantCredential(t, s, key, "after count 9")

	// An authenticator without a counter reports 0 every time (§6.1.1).
	for i := range 3 {
		must(t, s.RecordWebAuthnUse(ctx, zero.CredentialID, store.WebAuthnUse{SignCount: 0, UserPresent: true,
			UserVerified: true, BackupEligible: true, At: at.Add(time.Duration(i) * time.Minute)}), "record count 0")
	}
	zero.LastUsedAt = at.Add(2 * time.Minute)
	wantCredential(t, s, zero, "credential without a counter")

	wantErr(t, s.RecordWebAuthnUse(ctx, []byte("nope"), store.WebAuthnUse{SignCount: 1, At: at}), store.ErrNotFound, "record a use of an unknown credential")
}

func testListDeleteFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := factorUser(t, s, "list-ada")
	bob := factorUser(t, s, "list-bob")

	totp := newTOTPFactor("f-totp", ada)
	totp.CreatedAt = t0.Add(2 * time.Minute)
	must(t, s.EnrollTOTP(ctx, totp), "enroll totp")
	must(t, s.SetRecoveryCodes(ctx, ada, "f-rc", []string{"h1", "h2"}, t0.Add(time.Minute)), "set codes")
	key := newWebAuthnCredential("f-key", ada, "ada-key")
	key.Type = store.FactorWebAuthnRoaming
	must(t, s.AddWebAuthnCredential(ctx, key), "add key")
	pk := newWebAuthnCredential("f-a-passkey", ada, "ada-passkey")
	must(t, s.AddWebAuthnCredential(ctx, pk), "add passkey")
	handle, err := s.WebAuthnUserHandle(ctx, ada, []byte("list-ada-handle"))
	must(t, err, "ada's handle")
	bobKey := newWebAuthnCredential("f-bob", bob, "bob-key")
	must(t, s.AddWebAuthnCredential(ctx, bobKey), "add bob's key")

	wantFactors(t, s, ada, []store.Factor{
		{ID: pk.ID, UserID: ada, Type: store.FactorPasskey, Name: pk.Name, Confirmed: true, CreatedAt: t0},
		{ID: key.ID, UserID: ada, Type: store.FactorWebAuthnRoaming, Name: key.Name, Confirmed: true, CreatedAt: t0},
		{ID: "f-rc", UserID: ada, Type: store.FactorRecoveryCode, Confirmed: true, RecoveryCodesLeft: 2, CreatedAt: t0.Add(time.Minute)},
		{ID: totp.ID, UserID: ada, Type: store.FactorTOTP, Name: totp.Name, Confirmed: false, CreatedAt: totp.CreatedAt},
	}, "ada's factors")
	wantFactors(t, s, "gatehouse|nobody", nil, "factors of an unknown user")

	wantErr(t, s.DeleteFactor(ctx, bob, key.ID), store.ErrNotFound, "bob deletes ada's key")
	wantErr(t, s.DeleteFactor(ctx, ada, "f-nope"), store.ErrNotFound, "delete an unknown factor")
	must(t, s.DeleteFactor(ctx, ada, key.ID), "delete key")
	_, err = s.GetWebAuthnCredential(ctx, key.CredentialID)
	wantErr(t, err, store.ErrNotFound, "get a deleted key")
	wantErr(t, s.DeleteFactor(ctx, ada, key.ID), store.ErrNotFound, "delete the key twice")
	// Its credential ID is free again.
	must(t, s.AddWebAuthnCredential(ctx, newWebAuthnCredential("f-key-again", ada, "ada-key")), "add the deleted key again")

	must(t, s.DeleteFactor(ctx, ada, "f-rc"), "delete codes")
	_, err = s.UseRecoveryCode(ctx, ada, "h1", t0)
	wantErr(t, err, store.ErrNotFound, "use a code of deleted codes")

	n, err := s.DeleteFactors(ctx, ada)
	must(t, err, "delete ada's factors")
	if n != 3 {
		t.Fatalf("DeleteFactors removed %d factors, want 3 (totp, passkey, key)", n)
	}
	wantFactors(t, s, ada, nil, "ada's factors after reset")
	_, err = s.GetTOTP(ctx, ada)
	wantErr(t, err, store.ErrNotFound, "get totp after reset")
	_, err = s.GetWebAuthnCredential(ctx, pk.CredentialID)
	wantErr(t, err, store.ErrNotFound, "get passkey after reset")
	n, err = s.DeleteFactors(ctx, ada)
	must(t, err, "delete ada's factors again")
	if n != 0 {
		t.Fatalf("second DeleteFactors removed %d factors, want 0", n)
	}
	// The handle stays, and so does Bob's key.
	id, err := s.UserIDByWebAuthnHandle(ctx, handle)
	must(t, err, "user by handle after reset")
	wantEqual(t, id, ada, "user by handle after reset")
	wantCredential(t, s, bobKey, "bob's key after ada's reset")
}

// giveFactors gives the user one factor of each kind and a user handle, and
// returns the credential ID of its key.
func giveFactors(t *testing.T, s store.Store, userID, prefix string) []byte {
	t.Helper()
	ctx := t.Context()
	totp := newTOTPFactor(prefix+"-totp", userID)
	must(t, s.EnrollTOTP(ctx, totp), "enroll totp")
	must(t, s.ConfirmTOTP(ctx, userID, totp.ID, 5), "confirm totp")
	must(t, s.SetRecoveryCodes(ctx, userID, prefix+"-rc", []string{prefix + "-h1"}, t0), "set codes")
	key := newWebAuthnCredential(prefix+"-key", userID, prefix)
	must(t, s.AddWebAuthnCredential(ctx, key), "add key")
	_, err := s.WebAuthnUserHandle(ctx, userID, []byte(prefix+"-handle"))
	must(t, err, "handle")
	return key.CredentialID
}

// wantNoFactors fails unless the user, who exists, has no factor and no
// handle, and the credential and handle are free.
func wantNoFactors(t *testing.T, s store.Store, userID, prefix string, credentialID []byte, op string) {
	t.Helper()
	ctx := t.Context()
	wantFactors(t, s, userID, nil, op+": factors")
	_, err := s.GetTOTP(ctx, userID)
	wantErr(t, err, store.ErrNotFound, op+": get totp")
	wantErr(t, s.UseTOTPStep(ctx, userID, 6, t0), store.ErrNotFound, op+": use totp step")
	_, err = s.UseRecoveryCode(ctx, userID, prefix+"-h1", t0)
	wantErr(t, err, store.ErrNotFound, op+": use recovery code")
	_, err = s.GetWebAuthnCredential(ctx, credentialID)
	wantErr(t, err, store.ErrNotFound, op+": get key")
	_, err = s.UserIDByWebAuthnHandle(ctx, []byte(prefix+"-handle"))
	wantErr(t, err, store.ErrNotFound, op+": user by handle")
}

func testFactorsDeleteUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := newUser("gatehouse|del-ada", "del-ada@example.com")
	must(t, s.CreateUser(ctx, ada), "create ada")
	bob := factorUser(t, s, "del-bob")
	cred := giveFactors(t, s, ada.ID, "del-ada")
	bobCred := giveFactors(t, s, bob, "del-bob")

	must(t, s.DeleteUser(ctx, ada.ID), "delete ada")
	_, err := s.GetWebAuthnCredential(ctx, cred)
	wantErr(t, err, store.ErrNotFound, "get deleted user's key")
	must(t, s.CreateUser(ctx, ada), "create ada again")
	wantNoFactors(t, s, ada.ID, "del-ada", cred, "user created again")
	// The credential ID and the handle are free for anyone.
	must(t, s.AddWebAuthnCredential(ctx, newWebAuthnCredential("del-ada-key2", bob, "del-ada")), "bob adds the freed credential ID")
	_, err = s.WebAuthnUserHandle(ctx, ada.ID, []byte("del-ada-handle"))
	must(t, err, "ada takes her old handle again")

	// Bob keeps his.
	if list, err := s.ListFactors(ctx, bob); err != nil || len(list) != 4 {
		t.Fatalf("bob's factors after ada's deletion: %v, %v; want 4 (totp, codes, two keys)", list, err)
	}
	_, err = s.GetWebAuthnCredential(ctx, bobCred)
	must(t, err, "get bob's key")
}

func testFactorsLinkUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	primary := factorUser(t, s, "link-primary")
	secondary := factorUser(t, s, "link-secondary")
	primaryCred := giveFactors(t, s, primary, "link-primary")
	secondaryCred := giveFactors(t, s, secondary, "link-secondary")
	before, err := s.ListFactors(ctx, primary)
	must(t, err, "primary's factors")

	_, err = s.LinkUsers(ctx, primary, secondary)
	must(t, err, "link users")
	wantFactors(t, s, primary, before, "primary's factors after the link")
	_, err = s.GetWebAuthnCredential(ctx, primaryCred)
	must(t, err, "get primary's key")
	_, err = s.GetWebAuthnCredential(ctx, secondaryCred)
	wantErr(t, err, store.ErrNotFound, "get secondary's key")
	_, err = s.UserIDByWebAuthnHandle(ctx, []byte("link-secondary-handle"))
	wantErr(t, err, store.ErrNotFound, "user by secondary's handle")
	id, err := s.UserIDByWebAuthnHandle(ctx, []byte("link-primary-handle"))
	must(t, err, "user by primary's handle")
	wantEqual(t, id, primary, "user by primary's handle")
}

// wantFactors fails unless the user's factors are want, in that order.
func wantFactors(t *testing.T, s store.Store, userID string, want []store.Factor, op string) {
	t.Helper()
	got, err := s.ListFactors(t.Context(), userID)
	must(t, err, op+": list factors")
	wantEqual(t, got, want, op)
}

// wantCredential fails unless the credential is stored as want.
func wantCredential(t *testing.T, s store.Store, want store.WebAuthnCredential, op string) {
	t.Helper()
	got, err := s.GetWebAuthnCredential(t.Context(), want.CredentialID)
	must(t, err, op+": get credential")
	wantEqual(t, got, want, op)
}

// raceFactors runs the races of single-use factor values, each on users of
// its own.
func raceFactors(t *testing.T, s store.Store) {
	const n = 20
	ctx := t.Context()

	t.Run("UseTOTPStep", func(t *testing.T) {
		ada := factorUser(t, s, "race-totp")
		must(t, s.EnrollTOTP(ctx, newTOTPFactor("race-totp", ada)), "enroll")
		must(t, s.ConfirmTOTP(ctx, ada, "race-totp", 1000), "confirm")
		errs := race(n, func(int) error { return s.UseTOTPStep(ctx, ada, 1001, t0) })
		c := tally(errs, store.ErrAlreadyUsed)
		if c["ok"] != 1 || c[store.ErrAlreadyUsed.Error()] != n-1 {
			t.Fatalf("%d concurrent uses of one step: %v (first unexpected error: %v); want 1 ok, %d already used",
				n, c, firstOther(errs, store.ErrAlreadyUsed), n-1)
		}
		// Steps racing upwards: whatever the order, the last step stored is
		// the highest, and a step is never accepted after a higher one.
		errs = race(n, func(i int) error { return s.UseTOTPStep(ctx, ada, int64(1002+i), t0) })
		c = tally(errs, store.ErrAlreadyUsed)
		if c["ok"] < 1 || c["ok"]+c[store.ErrAlreadyUsed.Error()] != n {
			t.Fatalf("%d concurrent uses of rising steps: %v (first unexpected error: %v)", n, c, firstOther(errs, store.ErrAlreadyUsed))
		}
		got, err := s.GetTOTP(ctx, ada)
		must(t, err, "get totp")
		if got.LastStep != 1002+n-1 {
			t.Fatalf("LastStep after the race = %d, want %d", got.LastStep, 1002+n-1)
		}
	})

	t.Run("UseRecoveryCode", func(t *testing.T) {
		ada := factorUser(t, s, "race-rc")
		must(t, s.SetRecoveryCodes(ctx, ada, "race-rc", []string{"h1", "h2"}, t0), "set codes")
		lefts := make([]int, n)
		errs := race(n, func(i int) error {
			var err error
			lefts[i], err = s.UseRecoveryCode(ctx, ada, "h1", t0)
			return err
		})
		c := tally(errs, store.ErrAlreadyUsed)
		if c["ok"] != 1 || c[store.ErrAlreadyUsed.Error()] != n-1 {
			t.Fatalf("%d concurrent uses of one recovery code: %v (first unexpected error: %v); want 1 ok, %d already used",
				n, c, firstOther(errs, store.ErrAlreadyUsed), n-1)
		}
		for i, err := range errs {
			if err == nil && lefts[i] != 1 {
				t.Fatalf("codes left after the winning use = %d, want 1", lefts[i])
			}
		}
	})

	t.Run("RecordWebAuthnUse", func(t *testing.T) {
		ada := factorUser(t, s, "race-wa")
		key := newWebAuthnCredential("race-wa", ada, "race")
		key.SignCount = 10
		must(t, s.AddWebAuthnCredential(ctx, key), "add key")
		errs := race(n, func(int) error {
			return s.RecordWebAuthnUse(ctx, key.CredentialID, store.WebAuthnUse{SignCount: 11, UserPresent: true, At: t0})
		})
		c := tally(errs, store.ErrAlreadyUsed)
		if c["ok"] != 1 || c[store.ErrAlreadyUsed.Error()] != n-1 {
			t.Fatalf("%d concurrent assertions with one count: %v (first unexpected error: %v); want 1 ok, %d already used",
				n, c, firstOther(errs, store.ErrAlreadyUsed), n-1)
		}
		got, err := s.GetWebAuthnCredential(ctx, key.CredentialID)
		must(t, err, "get key")
		if got.SignCount != 11 || !got.CloneWarning {
			t.Fatalf("after the race: SignCount %d, CloneWarning %v; want 11, true", got.SignCount, got.CloneWarning)
		}
	})

	t.Run("WebAuthnUserHandle", func(t *testing.T) {
		ada := factorUser(t, s, "race-handle")
		handles := make([][]byte, n)
		errs := race(n, func(i int) error {
			var err error
			handles[i], err = s.WebAuthnUserHandle(ctx, ada, []byte("race-handle-"+strconv.Itoa(i)))
			return err
		})
		for i, err := range errs {
			must(t, err, "handle "+strconv.Itoa(i))
			if string(handles[i]) != string(handles[0]) {
				t.Fatalf("concurrent first handles differ: %q and %q", handles[0], handles[i])
			}
		}
		id, err := s.UserIDByWebAuthnHandle(ctx, handles[0])
		must(t, err, "user by the winning handle")
		wantEqual(t, id, ada, "user by the winning handle")
	})
}
