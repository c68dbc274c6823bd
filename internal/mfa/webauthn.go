package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"gatehouse/internal/store"
)

// The ceremonies a Session can finish.
const (
	ceremonyRegister     = "register"
	ceremonyLogin        = "login"
	ceremonyPasskeyLogin = "passkey-login"
)

// userHandleSize is the length of a new WebAuthn user handle: random, so
// that it says nothing about the user (Web Authentication §14.6.1), and
// well under the 64-byte limit.
const userHandleSize = 32

// Session is the state of one WebAuthn ceremony from begin to finish,
// holding its challenge. It is plain JSON: the caller stores it where only
// the browser that began the ceremony reaches it (beside the authorization
// request, or in a row named by a cookie), hands it to the finish call
// once, and then drops it, so that a challenge is never answered twice.
type Session struct {
	Ceremony string `json:"ceremony"`
	// Passkey is set for the registration of a passkey.
	Passkey bool `json:"passkey,omitempty"`
	// UserID is the Gatehouse user of a registration or second-factor
	// login; empty for a passkey login.
	UserID string               `json:"user_id,omitempty"`
	Data   webauthn.SessionData `json:"data"`
}

// Challenge is what a begin call returns.
type Challenge struct {
	// Options is the JSON of the publicKey member of the options: what
	// the page's script hands to PublicKeyCredential.
	// parseCreationOptionsFromJSON (registration) or
	// parseRequestOptionsFromJSON (login), and then to
	// navigator.credentials.create or get.
	Options json.RawMessage
	// Session is what the finish call needs.
	Session Session
}

// user is a Gatehouse user as the WebAuthn library sees it.
type user struct {
	handle        []byte
	name, display string
	credentials   []webauthn.Credential
	// records are the stored credentials, in the order of credentials.
	records []store.WebAuthnCredential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.display }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.credentials }

// record returns the stored credential with the credential ID.
func (u *user) record(credentialID []byte) (store.WebAuthnCredential, bool) {
	for _, r := range u.records {
		if bytes.Equal(r.CredentialID, credentialID) {
			return r, true
		}
	}
	return store.WebAuthnCredential{}, false
}

// libraryCredential turns a stored credential into the library's record.
func libraryCredential(c store.WebAuthnCredential) webauthn.Credential {
	var flags protocol.AuthenticatorFlags
	for _, f := range []struct {
		set  bool
		flag protocol.AuthenticatorFlags
	}{
		{c.UserPresent, protocol.FlagUserPresent},
		{c.UserVerified, protocol.FlagUserVerified},
		{c.BackupEligible, protocol.FlagBackupEligible},
		{c.BackupState, protocol.FlagBackupState},
	} {
		if f.set {
			flags |= f.flag
		}
	}
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                c.CredentialID,
		PublicKey:         c.PublicKey,
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{
			AAGUID:       c.AAGUID,
			SignCount:    c.SignCount,
			CloneWarning: c.CloneWarning,
			Attachment:   protocol.AuthenticatorAttachment(c.Attachment),
		},
	}
}

// loadUser reads the user's handle (made on first use) and credentials.
func (s *Service) loadUser(ctx context.Context, userID, name, display string) (*user, error) {
	fresh := make([]byte, userHandleSize)
	_, _ = rand.Read(fresh) // crypto/rand.Read never fails
	handle, err := s.store.WebAuthnUserHandle(ctx, userID, fresh)
	if err != nil {
		return nil, err
	}
	return s.userWithHandle(ctx, userID, handle, name, display)
}

func (s *Service) userWithHandle(ctx context.Context, userID string, handle []byte, name, display string) (*user, error) {
	records, err := s.store.ListWebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	u := &user{handle: handle, name: name, display: display, records: records}
	for _, r := range records {
		u.credentials = append(u.credentials, libraryCredential(r))
	}
	return u, nil
}

// options encodes the publicKey member of a ceremony's options.
func options(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode options: %w", err)
	}
	return b, nil
}

// BeginRegistration starts registering a security key or passkey for the
// user. A passkey must be discoverable (a resident key) and verify the
// user (PIN or biometrics), so that it logs in alone; a second factor
// needs neither. The user's credentials are excluded, so one
// authenticator is not registered twice.
func (s *Service) BeginRegistration(ctx context.Context, u store.User, passkey bool) (Challenge, error) {
	if s.wa == nil {
		return Challenge{}, fmt.Errorf("begin webauthn registration: %w", ErrWebAuthnUnavailable)
	}
	name := u.Email
	if name == "" {
		name = u.ID
	}
	display := u.Name
	if display == "" {
		display = name
	}
	wu, err := s.loadUser(ctx, u.ID, name, display)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin webauthn registration: %w", err)
	}
	selection := protocol.AuthenticatorSelection{
		ResidentKey:      protocol.ResidentKeyRequirementDiscouraged,
		UserVerification: protocol.VerificationDiscouraged,
	}
	if passkey {
		required := true
		selection = protocol.AuthenticatorSelection{
			RequireResidentKey: &required, // for Level 1 browsers
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		}
	}
	creation, data, err := s.wa.BeginRegistration(wu,
		webauthn.WithAuthenticatorSelection(selection),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(webauthn.Credentials(wu.credentials).CredentialDescriptors()))
	if err != nil {
		return Challenge{}, fmt.Errorf("begin webauthn registration: %w", err)
	}
	opts, err := options(creation.Response)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin webauthn registration: %w", err)
	}
	return Challenge{Options: opts, Session: Session{
		Ceremony: ceremonyRegister, Passkey: passkey, UserID: u.ID, Data: *data,
	}}, nil
}

// FinishRegistration checks the browser's response to a registration
// (the JSON of the PublicKeyCredential) against the session and stores the
// credential under name (a default by type when empty). The factor's type
// is FactorPasskey for a passkey registration, else FactorWebAuthnPlatform
// or FactorWebAuthnRoaming by the authenticator's attachment.
// ErrCeremony when the response is refused.
func (s *Service) FinishRegistration(ctx context.Context, userID string, session Session, response []byte, name string) (store.WebAuthnCredential, error) {
	if s.wa == nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn registration: %w", ErrWebAuthnUnavailable)
	}
	if session.Ceremony != ceremonyRegister || session.UserID != userID {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn registration: %w: session is not this user's registration", ErrCeremony)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn registration: %w: %w", ErrCeremony, err)
	}
	handle, err := s.store.WebAuthnUserHandle(ctx, userID, session.Data.UserID)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn registration: %w", err)
	}
	// CreateCredential checks the handle against the session's, which
	// fails if the stored handle is not the one the options carried.
	cred, err := s.wa.CreateCredential(&user{handle: handle}, session.Data, parsed)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn registration: %w: %w", ErrCeremony, err)
	}
	typ := store.FactorWebAuthnRoaming
	switch {
	case session.Passkey:
		typ = store.FactorPasskey
	case cred.Authenticator.Attachment == protocol.Platform:
		typ = store.FactorWebAuthnPlatform
	}
	if name == "" {
		name = map[string]string{
			store.FactorPasskey:          "Passkey",
			store.FactorWebAuthnPlatform: "This device",
			store.FactorWebAuthnRoaming:  "Security key",
		}[typ]
	}
	transports := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		transports[i] = string(t)
	}
	rec := store.WebAuthnCredential{
		ID:                newID("wa_"),
		UserID:            userID,
		Type:              typ,
		Name:              name,
		CredentialID:      cred.ID,
		PublicKey:         cred.PublicKey,
		AttestationType:   cred.AttestationType,
		AttestationFormat: cred.AttestationFormat,
		AAGUID:            cred.Authenticator.AAGUID,
		SignCount:         cred.Authenticator.SignCount,
		Transports:        transports,
		Attachment:        string(cred.Authenticator.Attachment),
		UserPresent:       cred.Flags.UserPresent,
		UserVerified:      cred.Flags.UserVerified,
		BackupEligible:    cred.Flags.BackupEligible,
		BackupState:       cred.Flags.BackupState,
		CreatedAt:         s.now(),
	}
	if err := s.store.AddWebAuthnCredential(ctx, rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// The credential ID is registered already, to this user or
			// another (§7.1 step 26 says to refuse it).
			return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn registration: %w: credential registered before", ErrCeremony)
		}
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn registration: %w", err)
	}
	return rec, nil
}

// BeginLogin starts a second-factor check with any of the user's
// credentials. ErrNotEnrolled when the user has none.
func (s *Service) BeginLogin(ctx context.Context, userID string) (Challenge, error) {
	if s.wa == nil {
		return Challenge{}, fmt.Errorf("begin webauthn login: %w", ErrWebAuthnUnavailable)
	}
	wu, err := s.loadUser(ctx, userID, userID, userID)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin webauthn login: %w", err)
	}
	if len(wu.credentials) == 0 {
		return Challenge{}, fmt.Errorf("begin webauthn login: %w", ErrNotEnrolled)
	}
	assertion, data, err := s.wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationDiscouraged))
	if err != nil {
		return Challenge{}, fmt.Errorf("begin webauthn login: %w", err)
	}
	opts, err := options(assertion.Response)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin webauthn login: %w", err)
	}
	return Challenge{Options: opts, Session: Session{Ceremony: ceremonyLogin, UserID: userID, Data: *data}}, nil
}

// FinishLogin checks the browser's response to a second-factor check and
// records the use. ErrCeremony when refused; ErrCloneWarning when the
// signature counter did not advance, or the credential was flagged so
// before.
func (s *Service) FinishLogin(ctx context.Context, userID string, session Session, response []byte) (store.WebAuthnCredential, error) {
	if s.wa == nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn login: %w", ErrWebAuthnUnavailable)
	}
	if session.Ceremony != ceremonyLogin || session.UserID != userID {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn login: %w: session is not this user's login", ErrCeremony)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn login: %w: %w", ErrCeremony, err)
	}
	// The handle is the session's: ValidateLogin compares it with the
	// handle the begin call used, so the stored one is not read again.
	wu, err := s.userWithHandle(ctx, userID, session.Data.UserID, userID, userID)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn login: %w", err)
	}
	cred, err := s.wa.ValidateLogin(wu, session.Data, parsed)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn login: %w: %w", ErrCeremony, err)
	}
	rec, err := s.recordUse(ctx, wu, cred)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("finish webauthn login: %w", err)
	}
	return rec, nil
}

// BeginPasskeyLogin starts a login with a passkey alone: no user is named,
// the authenticator offers the passkeys it holds for Gatehouse, and the
// user must be verified.
func (s *Service) BeginPasskeyLogin(ctx context.Context) (Challenge, error) {
	if s.wa == nil {
		return Challenge{}, fmt.Errorf("begin passkey login: %w", ErrWebAuthnUnavailable)
	}
	assertion, data, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Challenge{}, fmt.Errorf("begin passkey login: %w", err)
	}
	opts, err := options(assertion.Response)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin passkey login: %w", err)
	}
	return Challenge{Options: opts, Session: Session{Ceremony: ceremonyPasskeyLogin, Data: *data}}, nil
}

// FinishPasskeyLogin checks the browser's response to a passkey login,
// finds the user by the user handle it carries, records the use, and
// returns the user's ID. Only a credential registered as a passkey logs in
// alone: a security key registered as a second factor is refused even if
// it is discoverable. ErrCeremony when refused (an unknown handle
// included); ErrCloneWarning.
func (s *Service) FinishPasskeyLogin(ctx context.Context, session Session, response []byte) (string, store.WebAuthnCredential, error) {
	if s.wa == nil {
		return "", store.WebAuthnCredential{}, fmt.Errorf("finish passkey login: %w", ErrWebAuthnUnavailable)
	}
	if session.Ceremony != ceremonyPasskeyLogin {
		return "", store.WebAuthnCredential{}, fmt.Errorf("finish passkey login: %w: session is not a passkey login", ErrCeremony)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return "", store.WebAuthnCredential{}, fmt.Errorf("finish passkey login: %w: %w", ErrCeremony, err)
	}
	var found *user
	var userID string
	// lookupErr keeps the store's error, which the library would turn into
	// a bad request: a database outage is not the browser's fault.
	var lookupErr error
	handler := func(rawID, handle []byte) (webauthn.User, error) {
		id, err := s.store.UserIDByWebAuthnHandle(ctx, handle)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				lookupErr = err
			}
			return nil, err
		}
		u, err := s.userWithHandle(ctx, id, handle, id, id)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		rec, ok := u.record(rawID)
		if !ok || rec.Type != store.FactorPasskey {
			return nil, errors.New("credential is not a passkey of the user")
		}
		found, userID = u, id
		return u, nil
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(handler, session.Data, parsed)
	if lookupErr != nil {
		return "", store.WebAuthnCredential{}, fmt.Errorf("finish passkey login: %w", lookupErr)
	}
	if err != nil {
		return "", store.WebAuthnCredential{}, fmt.Errorf("finish passkey login: %w: %w", ErrCeremony, err)
	}
	rec, err := s.recordUse(ctx, found, cred)
	if err != nil {
		return "", store.WebAuthnCredential{}, fmt.Errorf("finish passkey login: %w", err)
	}
	return userID, rec, nil
}

// recordUse stores a verified assertion and returns the credential as
// stored. A counter that did not advance flags the credential and is
// refused with ErrCloneWarning; so is a credential flagged before, whose
// key may be in other hands.
func (s *Service) recordUse(ctx context.Context, u *user, cred *webauthn.Credential) (store.WebAuthnCredential, error) {
	rec, ok := u.record(cred.ID)
	if !ok {
		// The library only accepts credentials of the user.
		return store.WebAuthnCredential{}, fmt.Errorf("%w: credential not found", ErrCeremony)
	}
	if rec.CloneWarning {
		return store.WebAuthnCredential{}, ErrCloneWarning
	}
	now := s.now()
	// The store compares the count with the stored one under its lock,
	// and flags the credential when it did not advance. The library did
	// the same against the count read before (cred.Authenticator.
	// CloneWarning, keeping the old count), but a concurrent assertion
	// may have moved the count since.
	err := s.store.RecordWebAuthnUse(ctx, cred.ID, store.WebAuthnUse{
		SignCount:      cred.Authenticator.SignCount,
		UserPresent:    cred.Flags.UserPresent,
		UserVerified:   cred.Flags.UserVerified,
		BackupEligible: cred.Flags.BackupEligible,
		BackupState:    cred.Flags.BackupState,
		At:             now,
	})
	if errors.Is(err, store.ErrAlreadyUsed) {
		return store.WebAuthnCredential{}, ErrCloneWarning
	}
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	rec.SignCount = cred.Authenticator.SignCount
	rec.UserPresent, rec.UserVerified = cred.Flags.UserPresent, cred.Flags.UserVerified
	rec.BackupEligible, rec.BackupState = cred.Flags.BackupEligible, cred.Flags.BackupState
	rec.LastUsedAt = now
	return rec, nil
}

// maxResponseSize bounds the JSON of a browser's WebAuthn response; real
// ones are a few kilobytes (attestation certificate chains included).
const maxResponseSize = 64 << 10

// ReadResponse reads the JSON of a WebAuthn response sent as a request
// body (by a script's fetch), at most 64 KiB.
func ReadResponse(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, fmt.Errorf("read webauthn response: %w: empty body", ErrCeremony)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("read webauthn response: %w", err)
	}
	return checkResponse(b)
}

// FormResponse returns the JSON of a WebAuthn response posted in a form
// field: the hosted pages' script puts it in a hidden field and submits
// the form, so the page works as a normal form post.
func FormResponse(r *http.Request, field string) ([]byte, error) {
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("read webauthn response: %w: %w", ErrCeremony, err)
	}
	return checkResponse([]byte(r.PostForm.Get(field)))
}

func checkResponse(b []byte) ([]byte, error) {
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("read webauthn response: %w: empty", ErrCeremony)
	case len(b) > maxResponseSize:
		return nil, fmt.Errorf("read webauthn response: %w: over %d bytes", ErrCeremony, maxResponseSize)
	case !json.Valid(b):
		return nil, fmt.Errorf("read webauthn response: %w: not JSON", ErrCeremony)
	}
	return b, nil
}

// WebAuthnAMR returns the RFC 8176 authentication method reference of a
// login with the credential: "swk" (software-secured key) for a credential
// that may be backed up, as synced passkeys are, since its private key can
// leave the device; "hwk" (hardware-secured key) for one bound to its
// authenticator, as security keys are.
func WebAuthnAMR(c store.WebAuthnCredential) string {
	if c.BackupEligible {
		return "swk"
	}
	return "hwk"
}
