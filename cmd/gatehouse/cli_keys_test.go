package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// keyRows returns the rows of "keys list" by state: KID and REVOKED.
func keyRows(t *testing.T, out string) map[string][][2]string {
	t.Helper()
	rows := map[string][][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("keys row %q: want 6 columns", line)
		}
		rows[f[2]] = append(rows[f[2]], [2]string{f[0], f[5]})
	}
	return rows
}

func TestCLIKeysRevoke(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	out, errOut, code := runCLI(t, "", "keys", "rotate", "--db", db, "--force")
	if code != 0 {
		t.Fatalf("keys rotate: %d %s", code, errOut)
	}
	rows := keyRows(t, out)
	if len(rows["current"]) != 1 || len(rows["next"]) != 1 || len(rows["previous"]) != 1 {
		t.Fatalf("keys after rotation:\n%s", out)
	}
	current, previous := rows["current"][0][0], rows["previous"][0][0]

	if _, errOut, code := runCLI(t, "", "keys", "revoke", "--db", db, "--", current); code != 1 || !strings.Contains(errOut, "rotate the keys first") {
		t.Errorf("revoke the current key: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "keys", "revoke", "nope", "--db", db); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("revoke an unknown key: %d %q", code, errOut)
	}
	// A key ID may start with '-' (base64url): after -- it is the argument.
	if _, errOut, code := runCLI(t, "", "keys", "revoke", "--db", db, "--", "-abc"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("revoke a key ID that starts with '-': %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "keys", "revoke", "--db", db, "-abc"); code != 2 || !strings.Contains(errOut, "goes after --") {
		t.Errorf("a key ID that starts with '-' without --: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "", "keys", "revoke", "--db", db); code != 2 || !strings.Contains(errOut, "KID") {
		t.Errorf("revoke without a KID: %d %q", code, errOut)
	}
	out, errOut, code = runCLI(t, "", "keys", "revoke", "--db", db, "--", previous)
	if code != 0 {
		t.Fatalf("revoke the previous key: %d %s", code, errOut)
	}
	rows = keyRows(t, out)
	if got := rows["previous"]; len(got) != 1 || got[0][0] != previous || got[0][1] == "-" {
		t.Errorf("previous key after revocation: %v\n%s", got, out)
	}
	if _, errOut, code := runCLI(t, "", "keys", "revoke", "--db", db, "--", previous); code != 1 || !strings.Contains(errOut, "revoked already") {
		t.Errorf("revoke twice: %d %q", code, errOut)
	}
}
