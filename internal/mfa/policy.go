package mfa

import (
	"fmt"

	"gatehouse/internal/store"
)

// Second-factor policies of the server (mfa.policy) and of an application.
const (
	// PolicyNever asks no one for a second factor, unless the request's
	// acr_values ask for one.
	PolicyNever = "never"
	// PolicyOptional lets users enroll; those who did are always asked.
	PolicyOptional = "optional"
	// PolicyAlways asks every login for a second factor, enrolling users
	// who have none.
	PolicyAlways = "always"
	// PolicyInherit is how an application takes the server's policy; it
	// is stored as "".
	PolicyInherit = "inherit"
)

// ParseAppPolicy reads an application's policy as an operator writes it
// and returns it as stored: "" for inherit.
func ParseAppPolicy(s string) (string, error) {
	switch s {
	case PolicyInherit, "":
		return "", nil
	case PolicyNever, PolicyOptional, PolicyAlways:
		return s, nil
	}
	return "", fmt.Errorf("mfa policy %q is not always, optional, never or inherit", s)
}

// EffectivePolicy is the policy a login through the application follows:
// its own, or the server's when it inherits.
func EffectivePolicy(server, app string) string {
	if app == "" || app == PolicyInherit {
		return server
	}
	return app
}

// Required reports whether a login needs a second factor: the policy is
// always, the request asked for the multi-factor class in acr_values, or
// the user enrolled one and the policy is not never. An enrolled user is
// asked under optional, or enrolling would change nothing.
func Required(policy string, requested, enrolled bool) bool {
	return policy == PolicyAlways || requested || (enrolled && policy != PolicyNever)
}

// HasSecondFactor reports whether the factors hold one that passes a
// second-factor check: a confirmed authenticator app or a WebAuthn
// credential. Recovery codes alone do not count: they back up another
// factor.
func HasSecondFactor(factors []store.Factor) bool {
	for _, f := range factors {
		if (f.Type == store.FactorTOTP && f.Confirmed) || store.IsWebAuthnType(f.Type) {
			return true
		}
	}
	return false
}
