package database

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gatehouse/internal/connector"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

// cheap keeps the tests fast; the production cost is OWASP.
var cheap = Params{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}

func TestHashAndVerify(t *testing.T) {
	h, err := HashPassword("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Errorf("hash %q does not record its parameters", h)
	}
	if ok, err := VerifyPassword("correct horse", h); !ok || err != nil {
		t.Errorf("right password: %t %v", ok, err)
	}
	if ok, err := VerifyPassword("correct horsE", h); ok || err != nil {
		t.Errorf("wrong password: %t %v", ok, err)
	}
	h2, _ := HashPassword("correct horse", cheap)
	if h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=18$m=8192,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=8192,t=1,p=1$!!$aGFzaA",
		"$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$"} {
		if ok, err := VerifyPassword("x", bad); ok || err == nil {
			t.Errorf("malformed hash %q: %t %v", bad, ok, err)
		}
	}
}

// TestConcurrentHashes: more concurrent verifications than hash slots all
// finish correctly (the slots queue them).
func TestConcurrentHashes(t *testing.T) {
	h, _ := HashPassword("pw-123456", cheap)
	var wg sync.WaitGroup
	errs := make(chan string, 4*cap(hashSlots))
	for i := range 4 * cap(hashSlots) {
		wg.Go(func() {
			pw := "pw-123456"
			if i%2 == 1 {
				pw = "wrong"
			}
			if ok, err := VerifyPassword(pw, h); err != nil || ok != (i%2 == 0) {
				errs <- pw
			}
		})
	}
	wg.Wait()
	close(errs)
	for pw := range errs {
		t.Errorf("verification of %q went wrong", pw)
	}
}

func TestConnector(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := Open(Config{Store: st, Params: cheap, Provider: "auth0"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.SignUp(t.Context(), "Ada@Example.com", "analytical engine", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.ID, "auth0|") || u.Email != "ada@example.com" || u.Name != "ada@example.com" || u.Nickname != "ada" ||
		len(u.Identities) != 1 || u.Identities[0].Provider != "auth0" {
		t.Errorf("signed-up user %+v", u)
	}
	signUpErrors := []struct{ email, password, want string }{
		{"not-an-email", "analytical engine", "not a valid email"},
		{"bob@example.com", "short", "too short"},
		{"bob@example.com", "BOB@EXAMPLE.COM", "must not be your email"},
		{"bob@example.com", strings.Repeat("x", 1025), "too long"},
	}
	for _, tt := range signUpErrors {
		if _, err := c.SignUp(t.Context(), tt.email, tt.password, ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SignUp(%q, %q) = %v, want %q", tt.email, tt.password, err, tt.want)
		}
	}
	if _, err := c.SignUp(t.Context(), "ada@example.com", "another password", ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate sign-up: %v", err)
	}

	if got, err := c.Login(t.Context(), " ADA@example.com ", "analytical engine"); err != nil || got.ID != u.ID {
		t.Errorf("login: %v", err)
	}
	_, errWrong := c.Login(t.Context(), "ada@example.com", "difference engine")
	_, errUnknown := c.Login(t.Context(), "nobody@example.com", "difference engine")
	if !errors.Is(errWrong, connector.ErrInvalidCredentials) || !errors.Is(errUnknown, connector.ErrInvalidCredentials) || errWrong.Error() != errUnknown.Error() {
		t.Errorf("wrong password %v and unknown email %v must be the same error", errWrong, errUnknown)
	}
	// Only the audit log tells them apart.
	var ceWrong, ceUnknown *connector.CredentialsError
	if !errors.As(errWrong, &ceWrong) || ceWrong.UserID != u.ID || !errors.As(errUnknown, &ceUnknown) || ceUnknown.UserID != "" {
		t.Errorf("credentials errors: wrong password %#v, unknown email %#v", ceWrong, ceUnknown)
	}
	u.Blocked = true
	if err := st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(t.Context(), "ada@example.com", "analytical engine"); !errors.Is(err, connector.ErrBlocked) {
		t.Errorf("blocked user: %v", err)
	}
	if _, err := c.Login(t.Context(), "ada@example.com", "wrong one"); !errors.Is(err, connector.ErrInvalidCredentials) {
		t.Errorf("blocked user with a wrong password must not learn it is blocked: %v", err)
	}
	if _, err := Open(Config{Store: st, Provider: "a|b"}); err == nil {
		t.Error("provider with '|' accepted")
	}
	if _, err := Open(Config{}); err == nil {
		t.Error("no store accepted")
	}
}
