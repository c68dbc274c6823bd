package mfa_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator data flags (Web Authentication §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backup state
	flagAT = 0x40 // attested credential data included
)

var b64 = base64.RawURLEncoding

// authenticator is a software WebAuthn authenticator holding one ES256
// credential, built from the spec: it answers the options a Service
// sends with the JSON a browser's PublicKeyCredential.toJSON() gives.
type authenticator struct {
	key          *ecdsa.PrivateKey
	credentialID []byte
	aaguid       []byte
	// handle is the user handle the credential was created for; a
	// discoverable credential returns it in assertions.
	handle []byte
	count  uint32
	// counts makes every assertion advance count first; an authenticator
	// without a counter (most passkeys) reports 0 every time.
	counts bool
	// flags are the UV, BE and BS bits of every response; UP is always set.
	flags      byte
	attachment string // "platform" or "cross-platform"
}

func newAuthenticator(t *testing.T, flags byte, attachment string) *authenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &authenticator{key: key, credentialID: id, aaguid: []byte("gatehouse-test-1"), flags: flags,
		attachment: attachment, count: 5, counts: true}
}

// ceremony says how a response departs from what a browser and a faithful
// authenticator would send, to test refusals.
type ceremony struct {
	origin    string // the origin in clientDataJSON; the test issuer's when empty
	challenge []byte // a challenge other than the options'
	rpID      string // the RP ID hashed into the authenticator data
	typ       string // clientDataJSON's type
	count     *uint32
	noHandle  bool   // leave userHandle out of an assertion
	handle    []byte // a user handle other than the credential's
	signWith  *ecdsa.PrivateKey
	flags     *byte
}

// options are the members of the options JSON the authenticator reads.
type options struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	RPID string `json:"rpId"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

func readOptions(t *testing.T, raw json.RawMessage) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("options %s: %v", raw, err)
	}
	return o
}

// clientData returns clientDataJSON for the ceremony (§5.8.1).
func (c ceremony) clientData(t *testing.T, typ, challenge string) []byte {
	t.Helper()
	if c.typ != "" {
		typ = c.typ
	}
	if c.challenge != nil {
		challenge = b64.EncodeToString(c.challenge)
	}
	o := c.origin
	if o == "" {
		o = origin
	}
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": o, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authData returns authenticator data (§6.1): the RP ID hash, flags and
// signature counter, then attested credential data when attested is set.
func (a *authenticator) authData(t *testing.T, c ceremony, rpID string, attested []byte) []byte {
	t.Helper()
	if c.rpID != "" {
		rpID = c.rpID
	}
	hash := sha256.Sum256([]byte(rpID))
	flags := a.flags | flagUP
	if c.flags != nil {
		flags = *c.flags
	}
	if attested != nil {
		flags |= flagAT
	}
	count := a.count
	if c.count != nil {
		count = *c.count
	}
	out := append([]byte{}, hash[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// coseKey returns the credential's public key as a COSE_Key (RFC 9052):
// EC2 on P-256 for ES256.
func (a *authenticator) coseKey(t *testing.T) []byte {
	t.Helper()
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || x || y
	b, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register answers registration options with attestation "none" (§8.7).
func (a *authenticator) register(t *testing.T, raw json.RawMessage, c ceremony) []byte {
	t.Helper()
	o := readOptions(t, raw)
	handle, err := b64.DecodeString(o.User.ID)
	if err != nil {
		t.Fatalf("user.id %q: %v", o.User.ID, err)
	}
	a.handle = handle
	attested := append([]byte{}, a.aaguid...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.credentialID)))
	attested = append(attested, a.credentialID...)
	attested = append(attested, a.coseKey(t)...)
	attObj, err := webauthncbor.Marshal(map[string]any{
		"fmt":      "none",
		"attStmt":  map[string]any{},
		"authData": a.authData(t, c, o.RP.ID, attested),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a.credentialJSON(t, map[string]any{
		"clientDataJSON":    b64.EncodeToString(c.clientData(t, "webauthn.create", o.Challenge)),
		"attestationObject": b64.EncodeToString(attObj),
		"transports":        []string{"usb", "nfc"},
	})
}

// assert answers request options with an ES256 signature over the
// authenticator data and the hash of clientDataJSON (§6.3.3).
func (a *authenticator) assert(t *testing.T, raw json.RawMessage, c ceremony) []byte {
	t.Helper()
	o := readOptions(t, raw)
	if a.counts && c.count == nil {
		a.count++
	}
	data := a.authData(t, c, o.RPID, nil)
	client := c.clientData(t, "webauthn.get", o.Challenge)
	clientHash := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, data...), clientHash[:]...))
	key := a.key
	if c.signWith != nil {
		key = c.signWith
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	response := map[string]any{
		"clientDataJSON":    b64.EncodeToString(client),
		"authenticatorData": b64.EncodeToString(data),
		"signature":         b64.EncodeToString(sig),
	}
	switch {
	case c.handle != nil:
		response["userHandle"] = b64.EncodeToString(c.handle)
	case !c.noHandle:
		response["userHandle"] = b64.EncodeToString(a.handle)
	}
	return a.credentialJSON(t, response)
}

func (a *authenticator) credentialJSON(t *testing.T, response map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(a.credentialID),
		"rawId":                   b64.EncodeToString(a.credentialID),
		"type":                    "public-key",
		"authenticatorAttachment": a.attachment,
		"response":                response,
		"clientExtensionResults":  map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }
