package token

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMasterKey(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(0xf0 + i) // high bytes, so std and url alphabets differ
	}
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "std padded", in: base64.StdEncoding.EncodeToString(key)},
		{name: "std raw", in: base64.RawStdEncoding.EncodeToString(key)},
		{name: "url padded", in: base64.URLEncoding.EncodeToString(key)},
		{name: "url raw", in: base64.RawURLEncoding.EncodeToString(key)},
		{name: "surrounding white space", in: "  " + base64.StdEncoding.EncodeToString(key) + "\n"},
		{name: "empty", in: " \n", wantErr: "empty"},
		{name: "16 bytes", in: base64.StdEncoding.EncodeToString(key[:16]), wantErr: "16 bytes, want 32"},
		{name: "31 bytes", in: base64.StdEncoding.EncodeToString(key[:31]), wantErr: "31 bytes, want 32"},
		{name: "33 bytes", in: base64.StdEncoding.EncodeToString(append(key, 1)), wantErr: "33 bytes, want 32"},
		{name: "64 bytes", in: base64.StdEncoding.EncodeToString(append(key, key...)), wantErr: "64 bytes, want 32"},
		{name: "not base64", in: "this is not base64 at all!", wantErr: "not base64"},
		{name: "hex", in: strings.Repeat("ab", 32), wantErr: "48 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMasterKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMasterKey() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMasterKey(): %v", err)
			}
			if !bytes.Equal(got, key) {
				t.Errorf("ParseMasterKey() = %x, want %x", got, key)
			}
		})
	}
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	path := filepath.Join(dir, "master.key")

	key, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !created || len(key) != 32 {
		t.Fatalf("create: created = %v, len(key) = %d; want true, 32", created, len(key))
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %o, want %o", p, got, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file", len(entries))
	}

	again, created, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if created {
		t.Error("load: created = true for an existing file")
	}
	if diff := cmp.Diff(key, again); diff != "" {
		t.Errorf("key read back differs (-created +read):\n%s", diff)
	}
}

func TestLoadOrCreateMasterKeyKeepsBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte("too short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateMasterKey(path); err == nil {
		t.Fatal("LoadOrCreateMasterKey() accepted a malformed key file")
	}
	b, _ := os.ReadFile(path)
	if string(b) != "too short\n" {
		t.Errorf("malformed key file was overwritten with %q", b)
	}
}

func TestLoadOrCreateMasterKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	keys := make([][]byte, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = LoadOrCreateMasterKey(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("call %d got a different key", i)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d calls report creating the key, want 1", creators)
	}
}

func TestSealer(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	other := make([]byte, 32)
	rand.Read(other)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := NewSealer(other)
	if err != nil {
		t.Fatal(err)
	}
	plaintext, ad := []byte(`{"kty":"EC","d":"secret"}`), []byte("kid-1")
	sealed := s.Seal(plaintext, ad)
	if bytes.Contains(sealed, plaintext) {
		t.Fatal("sealed data contains the plaintext")
	}
	if bytes.Equal(sealed, s.Seal(plaintext, ad)) {
		t.Error("two seals of the same plaintext are equal: nonce not random")
	}

	got, err := s.Open(sealed, ad)
	if err != nil {
		t.Fatalf("Open(): %v", err)
	}
	if !bytes.Equal(got, plaintext) {
		t.Errorf("Open() = %q, want %q", got, plaintext)
	}

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name   string
		sealer *Sealer
		sealed []byte
		ad     []byte
	}{
		{"wrong key", wrong, sealed, ad},
		{"wrong additional data", s, sealed, []byte("kid-2")},
		{"missing additional data", s, sealed, nil},
		{"tampered", s, tampered, ad},
		{"truncated", s, sealed[:len(sealed)-1], ad},
		{"too short", s, sealed[:10], ad},
		{"empty", s, nil, ad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.sealer.Open(tt.sealed, tt.ad); err == nil {
				t.Errorf("Open() = %q, want an error", got)
			}
		})
	}
}

func TestNewSealerKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer(%d bytes) succeeded, want an error", n)
		}
	}
}
