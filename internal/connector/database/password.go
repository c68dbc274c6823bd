package database

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/frequency"
	"github.com/trustelem/zxcvbn/match"
	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// OWASP is OWASP's recommended argon2id configuration (19 MiB, t=2, p=1).
var OWASP = Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// hashSlots bounds how many argon2id computations run at once. Each holds
// its whole memory cost (19 MiB at OWASP's parameters) while it runs, and
// the work is CPU-bound, so more at once than there are CPUs only grows
// memory: 64 concurrent logins would otherwise hold over a gigabyte.
var hashSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// idKey is argon2.IDKey within a hash slot.
func idKey(password, salt []byte, p Params, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(password, salt, p.Iterations, p.MemoryKiB, p.Parallelism, n)
}

// HashPassword returns a PHC-formatted argon2id hash:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := idKey([]byte(password), salt, p, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations,
		p.Parallelism, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

var errMalformedHash = errors.New("malformed argon2id hash")

// VerifyPassword reports whether password matches a hash made by
// HashPassword, with the parameters recorded in the hash, or an imported
// hash (see ImportHash), in constant time.
func VerifyPassword(password, encoded string) (bool, error) {
	ok, _, err := verify(password, encoded)
	return ok, err
}

// verify is VerifyPassword that also reports a cheap hash: an imported one
// that took far less time than argon2id.
func verify(password, encoded string) (ok, cheap bool, err error) {
	if !strings.HasPrefix(encoded, "$argon2id$") {
		return verifyImported(password, encoded)
	}
	ok, err = verifyArgon2id(password, encoded)
	return ok, false, err
}

func verifyArgon2id(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return false, errMalformedHash
	}
	if p.MemoryKiB == 0 || p.Iterations == 0 || p.Parallelism == 0 || p.MemoryKiB > 4*1024*1024 {
		return false, errMalformedHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errMalformedHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errMalformedHash
	}
	got := idKey([]byte(password), salt, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// The password policy follows NIST SP 800-63B §3.1.1.2 (memorized secrets):
// a minimum length, a generous maximum, no composition rules, and a check
// against passwords attackers try first — common and breached passwords,
// and ones built from the account's own email address or name.
//
// The list of common passwords and the guessability estimate come from
// github.com/trustelem/zxcvbn (a Go port of Dropbox's zxcvbn): its embedded
// frequency lists hold the 30,000 most common passwords of several public
// breaches plus common English words, names and surnames, and it spots
// keyboard patterns, repeats, sequences, dates and l33t spellings of all of
// these. Bundling our own list would mean shipping a second, unreviewed copy
// of the same data.
const (
	// DefaultMinLength is the minimum password length when none is configured.
	DefaultMinLength = 8
	// MaxLength is the longest password accepted, in characters. NIST asks
	// for at least 64; argon2id makes the cost independent of the length.
	MaxLength = 128

	// minGuesses is the fewest guesses zxcvbn may estimate for a password
	// (its score 2, "protection from unthrottled online attacks"). Logins
	// are throttled per account, so an online attacker gets far fewer.
	minGuesses = 1e6
	// maxAnalyzed bounds the characters given to zxcvbn, whose matching
	// grows faster than the length: a sign-up form filled with 128 l33t
	// characters would otherwise cost a third of a second of CPU, several
	// times the password hash. 32 characters cost at most about as much as
	// the hash. A password whose first 32 characters are easy to guess is
	// rejected; the rest is not examined, and 32 characters that are hard
	// to guess make a strong password whatever follows.
	maxAnalyzed = 32
	// maxAffix is how many digits or symbols may be added to a common
	// password ("summer2024!") before it no longer counts as that password.
	maxAffix = 5
	// minPersonalToken is the shortest part of an email address or name
	// that is removed from a password before its length is checked again;
	// shorter parts ("ann", "bob") occur in ordinary words, and zxcvbn
	// still counts them.
	minPersonalToken = 4
)

// ErrWeakPassword is matched (errors.Is) by every policy rejection.
var ErrWeakPassword = errors.New("password does not meet the policy")

// Rule names the policy rule a password broke.
type Rule string

// The rules, in the order they are checked.
const (
	RuleTooShort  Rule = "too_short" // fewer than the minimum characters
	RuleTooLong   Rule = "too_long"  // more than MaxLength characters
	RuleNotText   Rule = "not_text"  // not valid UTF-8
	RuleEmail     Rule = "email"     // the email address itself
	RulePersonal  Rule = "personal"  // mostly the email address or name
	RuleCommon    Rule = "common"    // a common password, perhaps with a few digits or symbols added
	RuleGuessable Rule = "guessable" // zxcvbn estimates fewer than minGuesses guesses
)

// PolicyError is a password the policy rejects. Its message says what to
// change and is written to be shown to the user: lower case, without a
// final period, like every error in Gatehouse.
type PolicyError struct {
	Rule    Rule
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

// Is makes every PolicyError match ErrWeakPassword.
func (e *PolicyError) Is(target error) bool { return target == ErrWeakPassword }

func reject(rule Rule, format string, args ...any) error {
	return &PolicyError{Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// Policy checks new passwords.
type Policy struct {
	// MinLength is the fewest characters (Unicode code points) a password
	// may have; DefaultMinLength when zero.
	MinLength int
}

// Check returns nil when password may be used by the account with this
// email address and name (either may be empty; more names, such as a
// nickname, may follow), or a *PolicyError saying what to change.
func (p Policy) Check(password, email string, names ...string) error {
	minLength := p.MinLength
	if minLength <= 0 {
		minLength = DefaultMinLength
	}
	if !utf8.ValidString(password) {
		return reject(RuleNotText, "password contains bytes that are not text: type it again")
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < minLength:
		return reject(RuleTooShort, "password is too short: use at least %d characters", minLength)
	case n > MaxLength:
		return reject(RuleTooLong, "password is too long: use at most %d characters", MaxLength)
	case email != "" && strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(email)):
		return reject(RuleEmail, "password must not be your email address")
	}
	inputs := personalInputs(email, names)
	if rest := withoutPersonal(password, inputs); utf8.RuneCountInString(rest) < minLength {
		return reject(RulePersonal, "password is mostly your email address or name: "+
			"leave them out, or add at least %d characters of your own", minLength)
	}
	if isCommonVariant(password) {
		return reject(RuleCommon, "password is one of the most common passwords, which attackers try first: "+
			"choose another, for example a few unrelated words")
	}
	analyzed := password
	if n > maxAnalyzed {
		analyzed = string([]rune(password)[:maxAnalyzed])
	}
	if r := zxcvbn.PasswordStrength(analyzed, inputs); r.Guesses < minGuesses {
		return reject(RuleGuessable, "password is too easy to guess: %s", hint(r.Sequence, analyzed))
	}
	return nil
}

// personalInputs are the parts of the account's email address and name an
// attacker who targets it would try: the whole address, its local part and
// the words in it, the domain's labels but the last ("example" of
// example.com), and the words of each name. Lower case, without repeats.
func personalInputs(email string, names []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if utf8.RuneCountInString(s) >= 3 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	words := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	}
	if email != "" {
		add(email)
		local, domain, _ := strings.Cut(email, "@")
		add(local)
		for _, w := range words(local) {
			add(w)
		}
		labels := strings.Split(domain, ".")
		for _, l := range labels[:max(len(labels)-1, 0)] {
			add(l)
		}
	}
	for _, name := range names {
		add(name)
		for _, w := range words(name) {
			add(w)
		}
	}
	return out
}

// withoutPersonal removes every personal input of minPersonalToken or more
// characters from password, longest first, ignoring case.
func withoutPersonal(password string, inputs []string) string {
	tokens := slices.Clone(inputs)
	slices.SortFunc(tokens, func(a, b string) int { return utf8.RuneCountInString(b) - utf8.RuneCountInString(a) })
	rest := strings.ToLower(password)
	for _, t := range tokens {
		if utf8.RuneCountInString(t) >= minPersonalToken {
			rest = strings.ReplaceAll(rest, t, "")
		}
	}
	return rest
}

// commonPasswords is zxcvbn's list of the most common passwords (lower case).
var commonPasswords = sync.OnceValue(func() map[string]bool {
	list := frequency.FrequencyLists["passwords"]
	m := make(map[string]bool, len(list))
	for _, p := range list {
		m[p] = true
	}
	return m
})

// isCommonVariant reports whether password, ignoring case, is a common
// password of four or more characters with at most maxAffix digits,
// symbols or spaces added before or after it ("Summer2024!", "!!monkey").
func isCommonVariant(password string) bool {
	p := strings.ToLower(password)
	if commonPasswords()[p] {
		return true
	}
	core := strings.TrimFunc(p, func(r rune) bool { return !unicode.IsLetter(r) })
	affix := utf8.RuneCountInString(p) - utf8.RuneCountInString(core)
	return affix <= maxAffix && utf8.RuneCountInString(core) >= 4 && commonPasswords()[core]
}

// hint says what made zxcvbn's estimate low, from the weakest kind of
// pattern it found in the password.
func hint(seq []*match.Match, password string) string {
	has := func(ok func(m *match.Match) bool) bool { return slices.ContainsFunc(seq, ok) }
	const more = "; add another word or two, or make it longer"
	switch {
	case has(func(m *match.Match) bool { return m.DictionaryName == "user_inputs" }):
		return "it is built from your email address or name" + more
	case has(func(m *match.Match) bool {
		return m.DictionaryName == "passwords" && 2*utf8.RuneCountInString(m.Token) >= utf8.RuneCountInString(password)
	}):
		return "it is based on a common password" + more
	case has(func(m *match.Match) bool { return m.Pattern == "repeat" }):
		return "avoid repeated characters or patterns such as aaa or abcabc" + more
	case has(func(m *match.Match) bool { return m.Pattern == "sequence" }):
		return "avoid sequences such as abcd or 1234" + more
	case has(func(m *match.Match) bool { return m.Pattern == "spatial" }):
		return "avoid keyboard patterns such as qwerty or asdf" + more
	case has(func(m *match.Match) bool { return m.Pattern == "date" || m.Pattern == "regex" }):
		return "avoid dates and years" + more
	case has(func(m *match.Match) bool { return m.Pattern == "dictionary" }):
		return "common words and names are easy to guess on their own" + more
	}
	return "make it longer, for example with a few unrelated words"
}
