package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/connector"
	"gatehouse/internal/store"
)

// importFile is a users file in Auth0's format: two users with the hashes
// of another system (bcrypt of "hello", from Auth0's documentation, and
// MD5('salt' + 'password')) and a row with a malformed email.
const importFile = `[
  {"email": "hello@example.com", "user_id": "h1", "name": "Hello",
   "password_hash": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K", "app_metadata": {"plan": "pro"}},
  {"email": "salted@example.com", "custom_password_hash": {"algorithm": "md5",
   "hash": {"value": "67A1E09BB1F83F5007DC119C14D663AA", "encoding": "hex"}, "salt": {"value": "salt", "position": "prefix"}}},
  {"email": "not an email"}
]`

var summaryLine = regexp.MustCompile(`^job job_[0-9a-f]{16} (\w+): (\d+) rows, (\d+) inserted, (\d+) updated, (\d+) failed\n$`)

func TestUsersImportExportCLI(t *testing.T) {
	a := newAccountDB(t)
	file := filepath.Join(t.TempDir(), "users.json")
	writeFile(t, file, importFile)

	out, errOut, code := runCLI(t, "", "users", "import", file, "--db", a.flag)
	if code != 1 || !strings.Contains(errOut, `row 3: INVALID_FORMAT: Object didn't pass validation for format email: not an email (at #/email)`) ||
		!strings.Contains(errOut, "1 of 3 rows failed (listed above); the others were written") {
		t.Errorf("import with a bad row: exit %d, stderr %q", code, errOut)
	}
	if m := summaryLine.FindStringSubmatch(out); m == nil || m[1] != "completed" || m[2] != "3" || m[3] != "2" || m[5] != "1" {
		t.Errorf("summary %q", out)
	}
	// The imported passwords work, and the login replaces their hashes.
	for email, password := range map[string]string{"hello@example.com": "hello", "salted@example.com": "password"} {
		if err := a.login(t, email, password+"x"); !errors.Is(err, connector.ErrInvalidCredentials) {
			t.Errorf("%s: wrong password: %v", email, err)
		}
		if err := a.login(t, email, password); err != nil {
			t.Errorf("%s: login: %v", email, err)
		}
		u, err := a.st.GetUserByEmail(t.Context(), store.DefaultDatabaseConnection, email)
		if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("%s: hash after login %q, %v", email, u.PasswordHash, err)
		}
	}

	// Again from standard input, as JSON lines, with --upsert.
	out, errOut, code = runCLI(t, `{"email":"hello@example.com","name":"Hello Again"}`+"\n"+`{"email":"new@example.com"}`+"\n",
		"users", "import", "-", "--upsert", "--external-id", "batch-2", "--db", a.flag)
	if m := summaryLine.FindStringSubmatch(out); code != 0 || m == nil || m[3] != "1" || m[4] != "1" || errOut != "" {
		t.Errorf("upsert: exit %d, %q, %q", code, out, errOut)
	}
	if u, _ := a.st.GetUser(t.Context(), "gatehouse|h1"); u.Name != "Hello Again" || u.AppMetadata["plan"] != "pro" {
		t.Errorf("upserted user %+v", u)
	}

	out, errOut, code = runCLI(t, "", "users", "export", "--db", a.flag)
	if code != 0 || errOut != "exported 3 users\n" {
		t.Fatalf("export: exit %d, %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]any // by user ID, gatehouse|h1 comes after the random IDs
	if len(lines) != 3 || json.Unmarshal([]byte(lines[2]), &last) != nil || last["user_id"] != "gatehouse|h1" || last["name"] != "Hello Again" {
		t.Errorf("export: %q", out)
	}
	if strings.Contains(out, "argon2id") {
		t.Error("the export holds password hashes")
	}
	out, _, code = runCLI(t, "", "users", "export", "--fields", "email,app_metadata.plan:plan", "--limit", "3", "--connection", store.DefaultDatabaseConnection, "--db", a.flag)
	if code != 0 || !strings.HasSuffix(out, "\n"+`{"email":"hello@example.com","plan":"pro"}`+"\n") || !strings.Contains(out, `{"email":"salted@example.com"}`+"\n") {
		t.Errorf("export with fields: exit %d, %q", code, out)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no file", []string{"users", "import"}, "takes exactly one FILE"},
		{"two files", []string{"users", "import", file, file}, "takes exactly one FILE"},
		{"missing file", []string{"users", "import", filepath.Join(t.TempDir(), "nope.json")}, "no such file"},
		{"unknown connection", []string{"users", "import", file, "--connection", "nope"}, `connection "nope" not found`},
		{"not JSON", []string{"users", "import", "-"}, "the users file is not valid JSON"},
		{"export argument", []string{"users", "export", "extra"}, "extra"},
		{"export csv field", []string{"users", "export", "--fields", "password"}, `field "password" is not a field of the user profile`},
		{"export limit", []string{"users", "export", "--limit", "-1"}, "--limit must not be negative"},
		{"export connection", []string{"users", "export", "--connection", "nope"}, `connection "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "{oops", append(tt.args, "--db", a.flag)...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q, want %q", code, errOut, tt.want)
			}
		})
	}
}

// TestEndToEndImportedUserLogin: a user imported with the hash of another
// system signs in on the hosted login page of a running server, and that
// login replaces the imported hash with argon2id.
func TestEndToEndImportedUserLogin(t *testing.T) {
	g := startGatehouse(t, nil)
	out, errOut, code := g.cli(importFile, "users", "import", "-")
	if code != 1 || !strings.Contains(out, "2 inserted") {
		t.Fatalf("import: exit %d, %q, %q", code, out, errOut)
	}
	id, secret := g.app(rpCallback, "--first-party")
	r := newRP(t, g, id, secret)

	st, err := openStore(t.Context(), g.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := newBrowser(t, g.issuer)
	u, f := r.authURL()
	if p := b.login(b.get(u), "salted@example.com", "passwordx"); p.status != 401 {
		t.Errorf("wrong password: %d", p.status)
	}
	before, err := st.GetUserByEmail(t.Context(), store.DefaultDatabaseConnection, "salted@example.com")
	if err != nil || !strings.HasPrefix(before.PasswordHash, "$digest-md5$") {
		t.Fatalf("imported hash %q, %v", before.PasswordHash, err)
	}
	u, f = r.authURL()
	p := b.login(b.get(u), "salted@example.com", "password")
	_, idt := r.exchange(callbackParams(t, p, rpCallback), f)
	if idt.Subject != before.ID {
		t.Errorf("signed in as %s, want %s", idt.Subject, before.ID)
	}
	after, err := st.GetUser(t.Context(), before.ID)
	if err != nil || !strings.HasPrefix(after.PasswordHash, "$argon2id$") {
		t.Errorf("hash after the login %q, %v", after.PasswordHash, err)
	}
}
