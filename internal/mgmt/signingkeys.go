package mgmt

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// SigningKeys rotates and revokes the signing keys (token.Keys).
type SigningKeys interface {
	// Rotate rotates every ring; a rotated-out key stays published for
	// retireAfter.
	Rotate(ctx context.Context, retireAfter time.Duration) error
	// Revoke stops publishing a previous key at once;
	// store.ErrNotFound unless kid is a previous key not revoked yet.
	Revoke(ctx context.Context, kid string) error
	// SigningAlgorithm is the algorithm of the default ring, the one ID
	// tokens are signed with.
	SigningAlgorithm(ctx context.Context) (string, error)
}

// SigningKey is a signing key as the management API and the command line
// show it: never its private half.
type SigningKey struct {
	KID       string
	Algorithm string
	State     string // store.KeyNext, store.KeyCurrent or store.KeyPrevious
	// PublicJWK is the public key as the JWKS publishes it.
	PublicJWK json.RawMessage
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the public key.
	Thumbprint []byte
	CreatedAt  time.Time
	// RetireAt is when a previous key stops being published; zero for
	// next and current keys.
	RetireAt time.Time
	// RevokedAt is when the key was revoked; zero if it never was.
	RevokedAt time.Time
	// Published tells whether the JWKS lists the key now: a previous key
	// is published until it retires or is revoked.
	Published bool
}

// ListSigningKeys returns the stored signing keys of every ring: the
// default ring's first, each ring current, next, then previous keys, the
// most recently rotated out first.
func (s *Service) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defaultAlg := ""
	if s.signing != nil {
		if defaultAlg, err = s.signing.SigningAlgorithm(ctx); err != nil {
			return nil, fmt.Errorf("list signing keys: %w", err)
		}
	}
	now := s.now()
	keys := make([]SigningKey, 0, len(rows))
	for _, r := range rows {
		k, err := signingKeyOf(r, now)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	stateRank := map[string]int{store.KeyCurrent: 0, store.KeyNext: 1, store.KeyPrevious: 2}
	slices.SortStableFunc(keys, func(a, b SigningKey) int {
		switch {
		case a.Algorithm != b.Algorithm && a.Algorithm == defaultAlg:
			return -1
		case a.Algorithm != b.Algorithm && b.Algorithm == defaultAlg:
			return 1
		case a.Algorithm != b.Algorithm:
			return strings.Compare(a.Algorithm, b.Algorithm)
		case a.State != b.State:
			return stateRank[a.State] - stateRank[b.State]
		case !a.RetireAt.Equal(b.RetireAt):
			return b.RetireAt.Compare(a.RetireAt)
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return keys, nil
}

// signingKeyOf describes a stored key.
func signingKeyOf(r store.SigningKey, now time.Time) (SigningKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(r.PublicJWK); err != nil {
		return SigningKey{}, fmt.Errorf("signing key %q: parse public key: %w", r.ID, err)
	}
	if !jwk.IsPublic() {
		// Never shown: a private key in the public column is a broken store.
		return SigningKey{}, fmt.Errorf("signing key %q: the stored public key is not public", r.ID)
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return SigningKey{}, fmt.Errorf("signing key %q: thumbprint: %w", r.ID, err)
	}
	// Rebuilt from the key alone, as the JWKS publishes it.
	pub, err := jose.JSONWebKey{Key: jwk.Key, KeyID: r.ID, Algorithm: r.Algorithm, Use: "sig"}.MarshalJSON()
	if err != nil {
		return SigningKey{}, fmt.Errorf("signing key %q: encode public key: %w", r.ID, err)
	}
	k := SigningKey{KID: r.ID, Algorithm: r.Algorithm, State: r.State, PublicJWK: pub, Thumbprint: thumb,
		CreatedAt: r.CreatedAt, RetireAt: r.RetireAt, RevokedAt: r.RevokedAt, Published: true}
	if r.State == store.KeyPrevious {
		k.Published = r.RevokedAt.IsZero() && now.Before(r.RetireAt)
	} else {
		k.RetireAt = time.Time{}
	}
	return k, nil
}

// ThumbprintHex is the thumbprint in upper-case hex, as certificate
// thumbprints are usually written.
func (k SigningKey) ThumbprintHex() string { return strings.ToUpper(hex.EncodeToString(k.Thumbprint)) }

// GetSigningKey returns the signing key kid.
func (s *Service) GetSigningKey(ctx context.Context, kid string) (SigningKey, error) {
	keys, err := s.ListSigningKeys(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	for _, k := range keys {
		if k.KID == kid {
			return k, nil
		}
	}
	return SigningKey{}, notFound(store.ErrNotFound, "signing key", kid)
}

// CodeKeyNotSettled is the errorCode of a rotation refused because the
// next key has not been published long enough.
const CodeKeyNotSettled = "key_not_settled"

// RotateSigningKeys rotates every ring: each next key starts signing, each
// current key becomes previous and stays published until the tokens it
// signed have expired, and a new next key is published. It refuses while
// a next key has been published for less than the key cache period plus
// the JWKS cache period, which verifiers may still be serving a JWKS from
// that lacks it; force rotates anyway (an emergency: the current key has
// leaked). It returns the new next key of the default ring.
func (s *Service) RotateSigningKeys(ctx context.Context, force bool) (SigningKey, error) {
	if s.signing == nil {
		return SigningKey{}, errors.New("rotate signing keys: the service has no signing keys")
	}
	rows, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return SigningKey{}, fmt.Errorf("rotate signing keys: %w", err)
	}
	settle := s.tokens.KeysCacheTTL.D() + token.JWKSMaxAge
	now := s.now()
	for _, k := range rows {
		if age := now.Sub(k.CreatedAt); k.State == store.KeyNext && age < settle && !force {
			return SigningKey{}, &Error{Status: http.StatusConflict, Code: CodeKeyNotSettled, Message: fmt.Sprintf(
				"the next %s key was published %s ago; rotating before %s have passed could break verifiers whose cached JWKS lacks it (try again in %s)",
				k.Algorithm, age.Round(time.Second), settle, (settle - age).Round(time.Second))}
		}
	}
	lifetime, err := s.longestTokenLifetime(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	// The old key stays published until every token it signed has expired;
	// other processes may sign with it for one key cache period more.
	if err := s.signing.Rotate(ctx, lifetime+s.tokens.KeysCacheTTL.D()+5*time.Minute); err != nil {
		return SigningKey{}, err
	}
	keys, err := s.ListSigningKeys(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	// The default ring comes first, its next key second.
	for _, k := range keys {
		if k.State == store.KeyNext {
			return k, nil
		}
	}
	return SigningKey{}, errors.New("rotate signing keys: no next key after the rotation")
}

// longestTokenLifetime is the longest a signed token may live: the server
// defaults, the applications' lifetimes and the APIs' access-token
// lifetimes.
func (s *Service) longestTokenLifetime(ctx context.Context) (time.Duration, error) {
	d := max(s.tokens.IDToken.D(), s.tokens.AccessToken.D())
	clients, err := s.st.ListClients(ctx)
	if err != nil {
		return 0, fmt.Errorf("longest token lifetime: %w", err)
	}
	for _, c := range clients {
		d = max(d, c.IDTokenTTL, c.AccessTokenTTL)
	}
	apis, err := s.st.ListAPIs(ctx)
	if err != nil {
		return 0, fmt.Errorf("longest token lifetime: %w", err)
	}
	for _, a := range apis {
		d = max(d, a.TokenLifetime)
	}
	return d, nil
}

// RevokeSigningKey revokes a previous signing key: it stops being
// published, and the tokens it signed stop verifying, at once here and
// within the key cache period on the other servers. The current key must
// be rotated out first, and the next key cannot be revoked (it signs
// nothing yet and becomes current at the next rotation).
func (s *Service) RevokeSigningKey(ctx context.Context, kid string) (SigningKey, error) {
	if s.signing == nil {
		return SigningKey{}, errors.New("revoke signing key: the service has no signing keys")
	}
	k, err := s.GetSigningKey(ctx, kid)
	if err != nil {
		return SigningKey{}, err
	}
	switch {
	case k.State == store.KeyCurrent:
		return SigningKey{}, refused("kid", "key %s is the current signing key; rotate the keys first, then revoke it as the previous key", kid)
	case k.State == store.KeyNext:
		return SigningKey{}, refused("kid", "key %s is the next signing key, which signs nothing yet; rotate the keys twice to replace it", kid)
	case !k.RevokedAt.IsZero():
		return SigningKey{}, &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf("key %s is revoked already", kid)}
	}
	if err := s.signing.Revoke(ctx, kid); err != nil {
		// Between the read and the revocation another server revoked it,
		// or a rotation deleted it.
		return SigningKey{}, notFound(err, "signing key", kid)
	}
	return s.GetSigningKey(ctx, kid)
}
