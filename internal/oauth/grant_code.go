package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"

	"crypto/subtle"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// codeGrant is the authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6).
type codeGrant struct{ p *Provider }

var pkceVerifier = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

func (g codeGrant) exchange(ctx context.Context, req tokenRequest, client store.Client) (*tokenResponse, error) {
	if req.Code == "" {
		return nil, newError(ErrInvalidRequest, "the code parameter is missing")
	}
	code, err := g.p.cfg.Store.RedeemCode(ctx, token.Hash(req.Code), g.p.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, newError(ErrInvalidGrant, "the authorization code is invalid or expired")
	case errors.Is(err, store.ErrAlreadyUsed):
		// RFC 6749 §4.1.2: the store has revoked what the first redemption issued.
		g.p.cfg.Log.Warn("authorization code reused; its tokens are revoked", "client_id", client.ID)
		return nil, newError(ErrInvalidGrant, "the authorization code was already used")
	case err != nil:
		return nil, fmt.Errorf("redeem code: %w", err)
	}
	if code.ClientID != client.ID {
		return nil, newError(ErrInvalidGrant, "the authorization code was issued to another client")
	}
	// RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's.
	if req.RedirectURI == "" || req.RedirectURI != code.RedirectURI {
		return nil, newError(ErrInvalidGrant, "redirect_uri does not match the one of the authorization request")
	}
	if err := verifyPKCE(code, req.CodeVerifier); err != nil {
		return nil, err
	}
	return g.p.issue(ctx, issueParams{
		client:   client,
		userID:   code.UserID,
		grantID:  code.GrantID,
		session:  code.SessionID,
		scopes:   code.Scopes,
		audience: code.Audience,
		org:      code.Organization,
		nonce:    code.Nonce,
		authTime: code.AuthTime,
		refresh:  true,
	})
}

// verifyPKCE checks the verifier against the challenge (RFC 7636 §4.6).
func verifyPKCE(code store.AuthCode, verifier string) error {
	if code.CodeChallenge == "" {
		if verifier != "" {
			return newError(ErrInvalidGrant, "code_verifier was sent but the authorization request had no code_challenge")
		}
		return nil
	}
	if verifier == "" {
		return newError(ErrInvalidGrant, "the code_verifier parameter is missing")
	}
	if !pkceVerifier.MatchString(verifier) {
		return newError(ErrInvalidGrant, "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(code.CodeChallenge)) != 1 {
		return newError(ErrInvalidGrant, "code_verifier does not match the code_challenge")
	}
	return nil
}
