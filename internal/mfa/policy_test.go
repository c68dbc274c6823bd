package mfa_test

import (
	"testing"

	"gatehouse/internal/mfa"
	"gatehouse/internal/store"
)

func TestParseAppPolicy(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"inherit", ""}, {"", ""}, {"never", "never"}, {"optional", "optional"}, {"always", "always"},
	} {
		got, err := mfa.ParseAppPolicy(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseAppPolicy(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"Always", "sometimes", " never"} {
		if _, err := mfa.ParseAppPolicy(in); err == nil {
			t.Errorf("ParseAppPolicy(%q) accepted", in)
		}
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		server, app         string
		requested, enrolled bool
		want                bool
	}{
		{"never", "", false, false, false},
		{"never", "", false, true, false}, // enrolled users are asked only where a policy allows it
		{"never", "", true, false, true},  // acr_values asks for it
		{"optional", "", false, false, false},
		{"optional", "", false, true, true},
		{"always", "", false, false, true},
		{"never", "always", false, false, true},
		{"always", "never", false, false, false},
		{"always", "never", false, true, false},
		{"always", "never", true, false, true},
		{"never", "optional", false, true, true},
		{"optional", "inherit", false, true, true},
	}
	for _, tt := range tests {
		p := mfa.EffectivePolicy(tt.server, tt.app)
		if got := mfa.Required(p, tt.requested, tt.enrolled); got != tt.want {
			t.Errorf("server %q app %q requested %v enrolled %v: Required = %v, want %v", tt.server, tt.app, tt.requested, tt.enrolled, got, tt.want)
		}
	}
}

func TestHasSecondFactor(t *testing.T) {
	for _, tt := range []struct {
		name    string
		factors []store.Factor
		want    bool
	}{
		{"none", nil, false},
		{"pending app", []store.Factor{{Type: store.FactorTOTP}}, false},
		{"recovery codes alone", []store.Factor{{Type: store.FactorRecoveryCode, Confirmed: true, RecoveryCodesLeft: 10}}, false},
		{"app", []store.Factor{{Type: store.FactorRecoveryCode, Confirmed: true}, {Type: store.FactorTOTP, Confirmed: true}}, true},
		{"security key", []store.Factor{{Type: store.FactorWebAuthnRoaming, Confirmed: true}}, true},
		{"passkey", []store.Factor{{Type: store.FactorPasskey, Confirmed: true}}, true},
	} {
		if got := mfa.HasSecondFactor(tt.factors); got != tt.want {
			t.Errorf("%s: HasSecondFactor = %v, want %v", tt.name, got, tt.want)
		}
	}
}
