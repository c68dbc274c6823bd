package database

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPolicyRejects: every rule, with the message the sign-up page shows.
func TestPolicyRejects(t *testing.T) {
	tests := []struct {
		name, password, email string
		names                 []string
		minLength             int
		rule                  Rule
		message               string // the whole message
	}{
		{name: "empty", password: "", rule: RuleTooShort,
			message: "password is too short: use at least 8 characters"},
		{name: "seven characters", password: "x7#kq2!", rule: RuleTooShort,
			message: "password is too short: use at least 8 characters"},
		{name: "configured minimum", password: "x7#kq2!mPa", minLength: 12, rule: RuleTooShort,
			message: "password is too short: use at least 12 characters"},
		{name: "characters are counted, not bytes", password: "ééééééé", rule: RuleTooShort,
			message: "password is too short: use at least 8 characters"},
		{name: "129 characters", password: strings.Repeat("Xy7#", 32) + "q", rule: RuleTooLong,
			message: "password is too long: use at most 128 characters"},
		{name: "not UTF-8", password: "abc\xffdefgh\xfe", rule: RuleNotText,
			message: "password contains bytes that are not text: type it again"},
		{name: "the email address", password: "Bob.Smith@Example.com", email: "bob.smith@example.com", rule: RuleEmail,
			message: "password must not be your email address"},
		{name: "local part and digits", password: "bob.smith1985", email: "bob.smith@example.com", rule: RulePersonal,
			message: "password is mostly your email address or name: leave them out, or add at least 8 characters of your own"},
		{name: "local part word", password: "Smithsmith!", email: "bob.smith@example.com", rule: RulePersonal,
			message: "password is mostly your email address or name: leave them out, or add at least 8 characters of your own"},
		{name: "domain name", password: "acmewidgets#1", email: "jo@acmewidgets.io", rule: RulePersonal,
			message: "password is mostly your email address or name: leave them out, or add at least 8 characters of your own"},
		{name: "name", password: "Katherine2024", email: "kj@example.com", names: []string{"Katherine Johnson"}, rule: RulePersonal,
			message: "password is mostly your email address or name: leave them out, or add at least 8 characters of your own"},
		{name: "name and email together", password: "johnsonexample", email: "kj@example.com", names: []string{"Katherine Johnson"}, rule: RulePersonal,
			message: "password is mostly your email address or name: leave them out, or add at least 8 characters of your own"},
		{name: "short name with a common password", password: "bob12345678", email: "bob@example.com", rule: RuleGuessable,
			message: "password is too easy to guess: it is built from your email address or name; add another word or two, or make it longer"},
		{name: "common password", password: "password", rule: RuleCommon,
			message: "password is one of the most common passwords, which attackers try first: choose another, for example a few unrelated words"},
		{name: "common digits", password: "12345678", rule: RuleCommon,
			message: "password is one of the most common passwords, which attackers try first: choose another, for example a few unrelated words"},
		{name: "common password in capitals", password: "BASEBALL", rule: RuleCommon,
			message: "password is one of the most common passwords, which attackers try first: choose another, for example a few unrelated words"},
		{name: "common word and a year", password: "Summer2024!", rule: RuleCommon,
			message: "password is one of the most common passwords, which attackers try first: choose another, for example a few unrelated words"},
		{name: "common word after symbols", password: "!!monkey", rule: RuleCommon,
			message: "password is one of the most common passwords, which attackers try first: choose another, for example a few unrelated words"},
		{name: "l33t common password and a year", password: "P@ssw0rd2024", rule: RuleCommon,
			message: "password is one of the most common passwords, which attackers try first: choose another, for example a few unrelated words"},
		{name: "l33t common passwords", password: "s3cr3tpa55", rule: RuleGuessable,
			message: "password is too easy to guess: it is based on a common password; add another word or two, or make it longer"},
		{name: "repeat", password: "aaaaaaaaaaaa", rule: RuleGuessable,
			message: "password is too easy to guess: avoid repeated characters or patterns such as aaa or abcabc; add another word or two, or make it longer"},
		{name: "repeat at the start of a long password", password: strings.Repeat("ab", 40) + "Q7#kz!m2", rule: RuleGuessable,
			message: "password is too easy to guess: avoid repeated characters or patterns such as aaa or abcabc; add another word or two, or make it longer"},
		{name: "sequence", password: "abcdefgh123", rule: RuleGuessable,
			message: "password is too easy to guess: avoid sequences such as abcd or 1234; add another word or two, or make it longer"},
		{name: "keyboard pattern", password: "xcvbnm,.", rule: RuleGuessable,
			message: "password is too easy to guess: avoid keyboard patterns such as qwerty or asdf; add another word or two, or make it longer"},
		{name: "date", password: "19/04/1987", rule: RuleGuessable,
			message: "password is too easy to guess: avoid dates and years; add another word or two, or make it longer"},
		{name: "one word", password: "wonderland", rule: RuleGuessable,
			message: "password is too easy to guess: common words and names are easy to guess on their own; add another word or two, or make it longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Policy{MinLength: tt.minLength}.Check(tt.password, tt.email, tt.names...)
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrWeakPassword) {
				t.Fatalf("Check(%q) = %v, want a *PolicyError", tt.password, err)
			}
			if pe.Rule != tt.rule || err.Error() != tt.message {
				t.Errorf("Check(%q) = %s %q\nwant %s %q", tt.password, pe.Rule, err.Error(), tt.rule, tt.message)
			}
		})
	}
}

// TestPolicyAccepts: the passwords of the demo, the README and the tests
// of other packages, with the email address and name they are used with,
// pass the policy, and so do passphrases and random strings.
func TestPolicyAccepts(t *testing.T) {
	if n := len([]rune(maxPassphrase)); n != MaxLength {
		t.Fatalf("maxPassphrase has %d characters", n)
	}
	tests := []struct {
		password, email string
		names           []string
	}{
		{"gatehouse-demo", "demo@example.com", []string{"Demo User"}}, // cmd/gatehouse/demo.go
		{"a long password", "alice@example.com", []string{"Alice"}},   // README
		{"correct horse battery", "alice@example.com", []string{"Test User"}},
		{"correct horse battery", "bob@example.com", []string{"Test User"}},
		{"correct horse battery", "octocat@example.com", []string{"Test User"}},
		{"correct horse battery", "carol@corp.example", []string{"Test User"}},
		{"correct horse battery staple", "browser.user@example.com", []string{"Test User"}},
		{"correct horse battery staple", "user1@example.com", nil},
		{"a long enough password", "new.person@example.com", []string{"New Person"}},
		{"a long enough password", "carol@example.com", nil},
		{"cluster correct horse", "worker12@cluster.test", []string{"Cluster User"}},
		{"cluster correct horse", "hop@cluster.test", []string{"Cluster User"}},
		{"cluster correct horse", "ready@cluster.test", []string{"Cluster User"}},
		{"a-long-password", "bob@example.com", nil},
		{"analytical engine", "ada@example.com", []string{"ada@example.com"}},
		{"another password", "ada@example.com", nil},
		{"alice in wonderland", "alice@example.com", []string{"Alice"}},
		{"x7#kq2!m", "", nil},
		{"Tr0ub4dor&3", "", nil},
		{"tree house", "", nil},
		{"annotation-42", "ann@example.com", []string{"Ann"}}, // short name parts occur in words
		{strings.Repeat("é", 8) + "Q7#k", "", nil},
		{maxPassphrase, "", nil},
	}
	for _, tt := range tests {
		if err := (Policy{}).Check(tt.password, tt.email, tt.names...); err != nil {
			t.Errorf("Check(%q, %q, %q) = %v, want nil", tt.password, tt.email, tt.names, err)
		}
	}
}

// maxPassphrase is MaxLength characters long.
var maxPassphrase = "the quick brown fox jumps over the lazy dog while seven wizards box jolly quartz sphinxes near the old mill pond at dawn, twice!"

// TestPolicyCost: zxcvbn sees only the first maxAnalyzed characters, so a
// long password costs no more to check than a short one.
func TestPolicyCost(t *testing.T) {
	strongStart := "Tr0ub4dor&3 jolly quartz sphinxes" // hard to guess within maxAnalyzed characters
	if err := (Policy{}).Check(strongStart+strings.Repeat("a", MaxLength-len(strongStart)), ""); err != nil {
		t.Errorf("a weak end after %d strong characters was examined: %v", maxAnalyzed, err)
	}
	worst := strings.Repeat("4@8({[</|!1|2$5+7%3", 7)[:MaxLength] // every l33t substitution at once
	start := time.Now()
	for range 5 {
		_ = Policy{}.Check(worst, "someone@example.com", "Some One")
	}
	if d := time.Since(start) / 5; d > time.Second {
		t.Errorf("checking a %d-character password took %v", MaxLength, d)
	}
}
