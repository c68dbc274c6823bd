package oauth

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"gatehouse/internal/authflow"
	"gatehouse/internal/mfa"
)

// amrMFA is the RFC 8176 method a session records once a second factor
// was passed (or a passkey verified the user on its own).
const amrMFA = "mfa"

// secondFactorStep asks for a second factor when the login needs one and
// the session has not passed one: the challenge page for a user who has a
// factor, the enrollment page for one who has none. A login needs one when
// the effective policy (the application's, or the server's) is always,
// acr_values asks for the multi-factor class, or the user enrolled and the
// policy is not never. A new login (prompt=login, max_age) starts a new
// session without the factor, so it is asked again.
type secondFactorStep struct{}

func (secondFactorStep) name() string { return "second factor" }

func (secondFactorStep) run(ctx context.Context, p *Provider, _ *http.Request, f *flow) (outcome, error) {
	if slices.Contains(f.sess.Methods, amrMFA) {
		return proceed, nil
	}
	policy := mfa.EffectivePolicy(p.mfaPolicy(), f.client.MFAPolicy)
	requested := slices.Contains(f.req.ACRValues, ACRMultiFactor)
	if policy == mfa.PolicyNever && !requested {
		// The common case costs no read.
		return proceed, nil
	}
	factors, err := p.cfg.Store.ListFactors(ctx, f.user.ID)
	if err != nil {
		return proceed, fmt.Errorf("list factors: %w", err)
	}
	enrolled := mfa.HasSecondFactor(factors)
	if !mfa.Required(policy, requested, enrolled) {
		return proceed, nil
	}
	none := newError(ErrInteractionRequired, "a second authentication factor is required")
	if !enrolled {
		return showPage(authflow.For(authflow.MFAEnrollPath, f.req.ID), none), nil
	}
	return showPage(authflow.For(authflow.MFAPath, f.req.ID), none), nil
}

func (p *Provider) mfaPolicy() string {
	if p.cfg.MFAPolicy == "" {
		return mfa.PolicyNever
	}
	return p.cfg.MFAPolicy
}
