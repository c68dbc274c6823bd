// Package token owns Gatehouse's token material: opaque token values and their
// hashes, the master key that seals private keys at rest, the rotating JWT
// signing keys with their JWKS, and JWT signing and verification.
package token
