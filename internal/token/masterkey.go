package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeySize is the length of the master key in bytes (AES-256).
const MasterKeySize = 32

// ParseMasterKey decodes a master key given as base64, standard or URL
// alphabet, padded or not, surrounded by optional white space. It must decode
// to exactly 32 bytes. Errors never echo the input, which is a secret.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("parse master key: empty")
	}
	// The alphabets differ only in "+/" versus "-_", so at most one of them
	// accepts a given string and there is no ambiguity in trying each.
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != MasterKeySize {
			return nil, fmt.Errorf("parse master key: decodes to %d bytes, want %d", len(key), MasterKeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("parse master key: not base64 of %d bytes", MasterKeySize)
}

// LoadOrCreateMasterKey reads the base64 master key stored at path. When the
// file does not exist it creates it with a new random key: missing
// directories get mode 0700 and the file 0600. created reports whether the
// key is new. Two processes racing to create the file end up with the same
// key: the file appears atomically, complete, and the loser reads the
// winner's.
func LoadOrCreateMasterKey(path string) (key []byte, created bool, err error) {
	key, err = readMasterKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	key = make([]byte, MasterKeySize)
	_, _ = rand.Read(key) // never fails
	if err := createFileOnce(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err := readMasterKey(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("create master key %s: %w", path, err)
	}
	return key, true, nil
}

func readMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load master key: %w", err)
	}
	key, err := ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("load master key %s: %w", path, err)
	}
	return key, nil
}

// createFileOnce writes data to path with mode 0600 unless path exists
// (fs.ErrExist). It writes a temporary file first and hard-links it into
// place, so readers never see a partly written key.
func createFileOnce(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".master-key-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	// Losing the master key loses every signing key, so make it durable
	// before it becomes visible.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every platform can sync a directory
		d.Close()
	}
	return nil
}

// Sealer encrypts small secrets (private signing keys) under the master key
// with AES-256-GCM. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
	// derive is an HMAC key of its own for DeriveKey, so derived keys
	// reveal nothing about the encryption key.
	derive []byte
}

// NewSealer returns a Sealer for a 32-byte master key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("new sealer: key is %d bytes, want %d", len(key), MasterKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	// A random 96-bit nonce per message is safe up to 2^32 messages per key;
	// we seal one message per signing key generated.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("gatehouse derived keys v1"))
	return &Sealer{aead: aead, derive: m.Sum(nil)}, nil
}

// DeriveKey returns a 32-byte key for one purpose (e.g. "csrf"), the same
// on every replica that shares the master key.
func (s *Sealer) DeriveKey(purpose string) []byte {
	m := hmac.New(sha256.New, s.derive)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Seal encrypts and authenticates plaintext, and authenticates
// additionalData, which Open must be given again. The random nonce is
// prepended to the result.
func (s *Sealer) Seal(plaintext, additionalData []byte) []byte {
	return s.aead.Seal(nil, nil, plaintext, additionalData)
}

// Open decrypts what Seal returned. It fails when the key, the additional
// data or any byte of sealed differ.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < s.aead.Overhead() {
		return nil, errors.New("open sealed data: too short")
	}
	plaintext, err := s.aead.Open(nil, nil, sealed, additionalData)
	if err != nil {
		return nil, fmt.Errorf("open sealed data: %w", err)
	}
	return plaintext, nil
}
