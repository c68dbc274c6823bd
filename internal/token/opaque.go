package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// opaqueSize is the entropy of an opaque value: 256 bits, far beyond guessing.
const opaqueSize = 32

// NewOpaque returns a new opaque value for an authorization code, access or
// refresh token or session cookie: 32 bytes from crypto/rand, base64url
// without padding (43 characters).
func NewOpaque() string {
	b := make([]byte, opaqueSize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the SHA-256 of v, base64url without padding. It is the store ID
// of codes, tokens and sessions, so a database leak does not hand out usable
// values. A plain hash suffices because opaque values carry 256 bits of
// entropy; there is nothing to brute-force.
func Hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
