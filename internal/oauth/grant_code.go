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
	st := g.p.cfg.Store
	id, now := token.Hash(req.Code), g.p.now()
	// Read first, then spend the code and store the tokens in one write.
	code, err := st.GetCode(ctx, id, now)
	if err != nil {
		return nil, g.redeemError(err, client, "")
	}
	if code.Used {
		// RedeemCode revokes what the first redemption issued.
		_, err := st.RedeemCode(ctx, id, now, store.Issued{})
		return nil, g.redeemError(err, client, code.GrantID)
	}
	if err := checkCode(code, client, req); err != nil {
		// A refused attempt spends the code all the same: it is not
		// tried again with other values.
		if _, rerr := st.RedeemCode(ctx, id, now, store.Issued{}); rerr != nil &&
			!errors.Is(rerr, store.ErrAlreadyUsed) && !errors.Is(rerr, store.ErrNotFound) {
			return nil, fmt.Errorf("spend refused code: %w", rerr)
		}
		return nil, err
	}
	if err := g.p.recordSessionClient(ctx, code.SessionID, client, now); err != nil {
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
		amr:      code.AMR,
		refresh:  true,
		commit: func(ctx context.Context, issued store.Issued) error {
			_, err := st.RedeemCode(ctx, id, now, issued)
			if err != nil {
				return g.redeemError(err, client, code.GrantID)
			}
			return nil
		},
	})
}

// redeemError turns a store error of reading or redeeming a code into the
// token endpoint's answer. grantID is the code's grant, when known.
func (g codeGrant) redeemError(err error, client store.Client, grantID string) error {
	switch {
	case err == nil:
		return errors.New("redeem code: a used code was redeemed")
	case errors.Is(err, store.ErrNotFound):
		return newError(ErrInvalidGrant, "the authorization code is invalid or expired")
	case errors.Is(err, store.ErrAlreadyUsed):
		// RFC 6749 §4.1.2: the store has revoked what the first redemption
		// issued. The losers of a race all land here: one line per grant.
		g.p.reuses.report(g.p.cfg.Log, g.p.now(), grantID, "authorization code reused; its tokens are revoked", "client_id", client.ID)
		return newError(ErrInvalidGrant, "the authorization code was already used")
	default:
		return fmt.Errorf("redeem code: %w", err)
	}
}

// checkCode checks a live code against the request (RFC 6749 §4.1.3).
func checkCode(code store.AuthCode, client store.Client, req tokenRequest) error {
	if code.ClientID != client.ID {
		return newError(ErrInvalidGrant, "the authorization code was issued to another client")
	}
	// RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's.
	if req.RedirectURI == "" || req.RedirectURI != code.RedirectURI {
		return newError(ErrInvalidGrant, "redirect_uri does not match the one of the authorization request")
	}
	// A public client has no secret: only PKCE ties the code to the app
	// that asked for it (RFC 9700 §2.1.1).
	if client.Public() && code.CodeChallenge == "" {
		return newError(ErrInvalidGrant, "a public client must use PKCE: the authorization request had no code_challenge")
	}
	if client.RequirePKCE && code.CodeChallenge == "" {
		return newError(ErrInvalidGrant, "the application requires PKCE: the authorization request had no code_challenge")
	}
	return verifyPKCE(code, req.CodeVerifier)
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
