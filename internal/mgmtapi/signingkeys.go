package mgmtapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func (a *API) signingKeyRoutes() {
	a.add("GET", "/keys/signing", "List the signing keys", a.listSigningKeys, "read:signing_keys").returns(200, []signingKeyJSON{})
	a.add("GET", "/keys/signing/{kid}", "Get a signing key", a.getSigningKey, "read:signing_keys").returns(200, signingKeyJSON{})
	a.add("POST", "/keys/signing/rotate", "Rotate the signing keys", a.rotateSigningKeys, "create:signing_keys").returns(201, signingKeyRef{})
	a.add("PUT", "/keys/signing/{kid}/revoke", "Revoke a previous signing key", a.revokeSigningKey, "update:signing_keys").returns(200, signingKeyRef{})
}

// signingKeyJSON is a signing key as the API shows it. Gatehouse signs
// with bare keys, not certificates, so there is no cert or pkcs7: jwk is
// the public key as the JWKS publishes it, and thumbprint and fingerprint
// are its RFC 7638 SHA-256 thumbprint (hex, and hex in pairs). alg,
// created_at, retire_at (when a previous key stops being published) and
// published are Gatehouse's own.
type signingKeyJSON struct {
	KID         string         `json:"kid"`
	Alg         string         `json:"alg"`
	Current     bool           `json:"current"`
	Next        bool           `json:"next"`
	Previous    bool           `json:"previous"`
	Revoked     bool           `json:"revoked"`
	RevokedAt   *string        `json:"revoked_at,omitempty"`
	Published   bool           `json:"published"`
	CreatedAt   string         `json:"created_at"`
	RetireAt    *string        `json:"retire_at,omitempty"`
	Thumbprint  string         `json:"thumbprint"`
	Fingerprint string         `json:"fingerprint"`
	JWK         map[string]any `json:"jwk"`
}

// signingKeyRef names a key: the next key after a rotation, the revoked
// key after a revocation.
type signingKeyRef struct {
	KID string `json:"kid"`
}

func toSigningKeyJSON(k mgmt.SigningKey) (signingKeyJSON, error) {
	hex := k.ThumbprintHex()
	pairs := make([]string, 0, len(hex)/2)
	for i := 0; i+1 < len(hex); i += 2 {
		pairs = append(pairs, hex[i:i+2])
	}
	var jwk map[string]any
	if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
		return signingKeyJSON{}, fmt.Errorf("signing key %s: %w", k.KID, err)
	}
	return signingKeyJSON{KID: k.KID, Alg: k.Algorithm, Current: k.State == store.KeyCurrent, Next: k.State == store.KeyNext,
		Previous: k.State == store.KeyPrevious, Revoked: !k.RevokedAt.IsZero(), RevokedAt: optTimestamp(k.RevokedAt),
		Published: k.Published, CreatedAt: timestamp(k.CreatedAt), RetireAt: optTimestamp(k.RetireAt),
		Thumbprint: hex, Fingerprint: strings.Join(pairs, ":"), JWK: jwk}, nil
}

func (a *API) listSigningKeys(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	keys, err := a.svc.ListSigningKeys(r.Context())
	if err != nil {
		return err
	}
	out := make([]signingKeyJSON, len(keys))
	for i, k := range keys {
		if out[i], err = toSigningKeyJSON(k); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getSigningKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.svc.GetSigningKey(r.Context(), r.PathValue("kid"))
	if err != nil {
		return err
	}
	out, err := toSigningKeyJSON(k)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) rotateSigningKeys(w http.ResponseWriter, r *http.Request) error {
	// The hosted service's rotation has no force: here too a rotation
	// waits for the next key to settle (the command line can force one).
	k, err := a.svc.RotateSigningKeys(r.Context(), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, signingKeyRef{KID: k.KID})
	return nil
}

func (a *API) revokeSigningKey(w http.ResponseWriter, r *http.Request) error {
	k, err := a.svc.RevokeSigningKey(r.Context(), r.PathValue("kid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, signingKeyRef{KID: k.KID})
	return nil
}
