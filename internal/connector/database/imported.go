package database

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/md4"       //nolint:staticcheck // imported hashes of other systems use it
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // imported hashes of other systems use it
)

// Imported password hashes.
//
// Users imported from another system (Auth0's bulk import,
// custom_password_hash) keep their passwords: their hash is stored in one
// of the forms below, VerifyPassword checks it, and the first successful
// login replaces it with an argon2id hash (NeedsRehash).
//
//	$2a$…, $2b$…, $2y$…            bcrypt, as given
//	$argon2i$v=19$…, $argon2id$v=19$… argon2, as given (PHC string)
//	$pbkdf2-<digest>$i=<n>,l=<n>[,pw=<enc>]$<salt>$<hash>
//	                               PBKDF2 with HMAC-<digest>, as given but
//	                               with Auth0's defaults for i and l filled in
//	$digest-<alg>$pos=<prefix|suffix>,pw=<enc>$[<salt>]$<hash>
//	                               <alg>(salt+password) or <alg>(password+salt)
//	$hmac-<digest>$key=<key>,pos=<prefix|suffix>,pw=<enc>$[<salt>]$<hash>
//	                               HMAC-<digest>(key, salted password)
//	{SCHEME}<base64>               LDAP (RFC 2307) MD5, SMD5, SHA, SSHA,
//	                               SHA256, SSHA256, SHA384, SSHA384, SHA512,
//	                               SSHA512, as given
//
// Salts, keys and hashes in the $ forms are base64 without padding, as in
// PHC strings. <enc> is the encoding of the password the hash was made
// from: utf8, utf16le or latin1.

// Algorithms of HashSpec, Auth0's names.
const (
	AlgArgon2 = "argon2"
	AlgBcrypt = "bcrypt"
	AlgPBKDF2 = "pbkdf2"
	AlgHMAC   = "hmac"
	AlgLDAP   = "ldap"
	AlgMD4    = "md4"
	AlgMD5    = "md5"
	AlgSHA1   = "sha1"
	AlgSHA256 = "sha256"
	AlgSHA512 = "sha512"
)

// Algorithms lists the algorithms ImportHash takes.
var Algorithms = []string{AlgArgon2, AlgBcrypt, AlgHMAC, AlgLDAP, AlgMD4, AlgMD5, AlgSHA1, AlgSHA256, AlgSHA512, AlgPBKDF2}

// Limits on the cost of an imported hash. Every login attempt of the user
// pays it until the first success, so a hash beyond them would let anyone
// who knows the email address tie up the server.
const (
	maxBcryptCost       = 16        // 2^16 rounds, a few seconds
	maxPBKDF2Iterations = 5_000_000 // a few seconds with SHA-512
	maxKeyLen           = 1024      // bytes of a derived key
	maxArgon2Memory     = 1 << 20   // KiB: 1 GiB
	maxArgon2Time       = 64
)

// Auth0's defaults for a PBKDF2 PHC string without i or l.
const (
	defaultPBKDF2Iterations = 100_000
	defaultPBKDF2KeyLen     = 64
)

// HashSpec is a password hash made by another system, in the terms of
// Auth0's bulk import (custom_password_hash). Empty fields take Auth0's
// defaults.
type HashSpec struct {
	Algorithm string // one of Algorithms
	Hash      string // hash.value
	// Encoding is hash.encoding: "hex" or "base64" (md4, md5, sha*, hmac),
	// "utf8" (argon2, bcrypt, pbkdf2, ldap, and their default).
	Encoding    string
	Digest      string // hash.digest: hmac's hash function
	Key         string // hash.key.value: hmac's key
	KeyEncoding string // hash.key.encoding: "utf8" (default), "hex" or "base64"
	// Salt is salt.value; SaltEncoding is "utf8" (default), "hex" or
	// "base64"; SaltPosition is "prefix" or "suffix": where the salt was
	// put around the password.
	Salt, SaltEncoding, SaltPosition string
	// PasswordEncoding is password.encoding: how the password was turned
	// into bytes: "utf8" (default), "utf16le" or "ucs2", "latin1",
	// "binary" or "ascii".
	PasswordEncoding string
}

// SpecError is a HashSpec that cannot be imported. Field is the part at
// fault, by its path in custom_password_hash ("hash.encoding").
type SpecError struct {
	Field   string
	Message string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Message }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// NeedsRehash reports whether hash is not an argon2id hash with the
// parameters p: an imported hash, or one made before the parameters were
// changed. The login that verifies it replaces it.
func NeedsRehash(hash string, p Params) bool {
	want := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism)
	return !strings.HasPrefix(hash, want)
}

// ImportHash checks spec and returns the hash to store as the user's
// PasswordHash, which VerifyPassword checks. A spec that cannot be
// imported is a *SpecError. ImportHash computes no hash: it costs little
// per user.
func ImportHash(spec HashSpec) (string, error) {
	pw, err := passwordEncoding(spec.PasswordEncoding)
	if err != nil {
		return "", err
	}
	switch spec.Algorithm {
	case AlgBcrypt, AlgArgon2, AlgLDAP, AlgPBKDF2:
		if spec.Encoding != "" && spec.Encoding != "utf8" {
			return "", specErr("hash.encoding", "must be utf8 for %s", spec.Algorithm)
		}
		if spec.Salt != "" || spec.SaltEncoding != "" || spec.SaltPosition != "" {
			return "", specErr("salt", "is not allowed for %s: the salt is part of the hash", spec.Algorithm)
		}
		if spec.Algorithm != AlgPBKDF2 && pw != "utf8" {
			return "", specErr("password.encoding", "must be utf8 for %s", spec.Algorithm)
		}
	}
	if spec.Algorithm != AlgHMAC && (spec.Digest != "" || spec.Key != "" || spec.KeyEncoding != "") {
		return "", specErr("hash", "digest and key are for hmac only")
	}
	switch spec.Algorithm {
	case AlgBcrypt:
		return importBcrypt(spec.Hash)
	case AlgArgon2:
		if _, err := parseArgon2(spec.Hash); err != nil {
			return "", specErr("hash.value", "%v", err)
		}
		return spec.Hash, nil
	case AlgLDAP:
		if _, _, _, err := parseLDAP(spec.Hash); err != nil {
			return "", specErr("hash.value", "%v", err)
		}
		return spec.Hash, nil
	case AlgPBKDF2:
		return importPBKDF2(spec.Hash, pw)
	case AlgMD4, AlgMD5, AlgSHA1, AlgSHA256, AlgSHA512, AlgHMAC:
		return importDigest(spec, pw)
	case "":
		return "", specErr("algorithm", "is required")
	}
	return "", specErr("algorithm", "%q is not one of %s", spec.Algorithm, strings.Join(Algorithms, ", "))
}

func importBcrypt(h string) (string, error) {
	switch {
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
	default:
		return "", specErr("hash.value", "a bcrypt hash begins with $2a$, $2b$ or $2y$")
	}
	cost, err := bcrypt.Cost([]byte(h))
	if err != nil || len(h) != 60 {
		return "", specErr("hash.value", "is not a bcrypt hash")
	}
	if cost > maxBcryptCost {
		return "", specErr("hash.value", "bcrypt cost %d is above %d", cost, maxBcryptCost)
	}
	return h, nil
}

func importPBKDF2(h, pw string) (string, error) {
	p, err := parsePBKDF2(h, true)
	if err != nil {
		return "", specErr("hash.value", "%v", err)
	}
	p.pw = pw
	return p.String(), nil
}

func importDigest(spec HashSpec, pw string) (string, error) {
	var d digest
	d.pw = pw
	if spec.Algorithm == AlgHMAC {
		if spec.Digest == "" {
			return "", specErr("hash.digest", "is required for hmac")
		}
		if _, ok := hashFuncs[spec.Digest]; !ok {
			return "", specErr("hash.digest", "%q is not supported: use md4, md5, ripemd160, sha1, sha224, sha256, sha384 or sha512", spec.Digest)
		}
		if spec.Key == "" {
			return "", specErr("hash.key.value", "is required for hmac")
		}
		key, err := decode(spec.Key, spec.KeyEncoding, "utf8")
		if err != nil {
			return "", specErr("hash.key", "%v", err)
		}
		d.id, d.key = "hmac-"+spec.Digest, key
	} else {
		d.id = "digest-" + spec.Algorithm
	}
	switch spec.Encoding {
	case "hex", "base64":
	case "":
		return "", specErr("hash.encoding", "is required for %s: hex or base64", spec.Algorithm)
	default:
		return "", specErr("hash.encoding", "must be hex or base64 for %s", spec.Algorithm)
	}
	sum, err := decode(spec.Hash, spec.Encoding, "")
	if err != nil {
		return "", specErr("hash.value", "%v", err)
	}
	d.sum = sum
	if spec.Salt != "" || spec.SaltPosition != "" || spec.SaltEncoding != "" {
		if spec.Salt == "" {
			return "", specErr("salt.value", "is required with a salt")
		}
		switch spec.SaltPosition {
		case "prefix", "suffix":
			d.pos = spec.SaltPosition
		case "":
			return "", specErr("salt.position", "is required: prefix or suffix")
		default:
			return "", specErr("salt.position", "must be prefix or suffix")
		}
		if d.salt, err = decode(spec.Salt, spec.SaltEncoding, "utf8"); err != nil {
			return "", specErr("salt", "%v", err)
		}
	}
	if d.pos == "" {
		d.pos = "prefix"
	}
	h, _ := d.hashFunc()
	if n := h().Size(); len(d.sum) != n {
		return "", specErr("hash.value", "is %d bytes long; a %s hash is %d", len(d.sum), strings.TrimPrefix(d.id, "digest-"), n)
	}
	return d.String(), nil
}

// decode turns value in the encoding (def when empty) into bytes.
// Hexadecimal may be in either case; base64 may be padded or not, in the
// standard or the URL alphabet.
func decode(value, encoding, def string) ([]byte, error) {
	if encoding == "" {
		encoding = def
	}
	switch encoding {
	case "utf8":
		return []byte(value), nil
	case "hex":
		b, err := hex.DecodeString(value)
		if err != nil {
			return nil, errors.New("is not hexadecimal")
		}
		return b, nil
	case "base64":
		if b, ok := decodeBase64(value); ok {
			return b, nil
		}
		return nil, errors.New("is not base64")
	case "":
		return nil, errors.New("encoding is required")
	}
	return nil, fmt.Errorf("encoding %q is not hex, base64 or utf8", encoding)
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// passwordEncoding returns the canonical name of a password encoding:
// Node.js's names, which Auth0 uses, with their aliases folded.
func passwordEncoding(enc string) (string, error) {
	switch enc {
	case "", "utf8", "utf-8":
		return "utf8", nil
	case "utf16le", "utf-16le", "ucs2", "ucs-2":
		return "utf16le", nil
	// Node.js writes "ascii" and "binary" as it writes "latin1": the low
	// byte of each UTF-16 code unit.
	case "latin1", "binary", "ascii":
		return "latin1", nil
	}
	return "", specErr("password.encoding", "%q is not utf8, utf16le, ucs2, latin1, binary or ascii", enc)
}

// encodePassword turns the password typed at login (UTF-8) into the
// bytes the imported hash was made from.
func encodePassword(password, enc string) []byte {
	switch enc {
	case "utf16le":
		units := utf16.Encode([]rune(password))
		b := make([]byte, 0, 2*len(units))
		for _, u := range units {
			b = append(b, byte(u), byte(u>>8))
		}
		return b
	case "latin1":
		units := utf16.Encode([]rune(password))
		b := make([]byte, len(units))
		for i, u := range units {
			b[i] = byte(u)
		}
		return b
	}
	return []byte(password)
}

// hashFuncs are the hash functions of digests, HMACs and PBKDF2 by their
// canonical names.
var hashFuncs = map[string]func() hash.Hash{
	"md4":       md4.New,
	"md5":       md5.New,
	"ripemd160": ripemd160.New,
	"sha1":      sha1.New,
	"sha224":    sha256.New224,
	"sha256":    sha256.New,
	"sha384":    sha512.New384,
	"sha512":    sha512.New,
}

// pbkdf2Digests maps the digest names of Auth0's pbkdf2-<digest> ids (the
// names of Node.js's crypto module) to the canonical ones.
var pbkdf2Digests = map[string]string{
	"md4": "md4", "rsa-md4": "md4", "md4withrsaencryption": "md4",
	"md5": "md5", "rsa-md5": "md5", "md5withrsaencryption": "md5", "ssl3-md5": "md5",
	"ripemd160": "ripemd160", "ripemd": "ripemd160", "rmd160": "ripemd160", "rsa-ripemd160": "ripemd160", "ripemd160withrsa": "ripemd160",
	"sha1": "sha1", "rsa-sha1": "sha1", "rsa-sha1-2": "sha1", "sha1withrsaencryption": "sha1", "ssl3-sha1": "sha1",
	"sha224": "sha224", "rsa-sha224": "sha224", "sha224withrsaencryption": "sha224",
	"sha256": "sha256", "rsa-sha256": "sha256", "sha256withrsaencryption": "sha256",
	"sha384": "sha384", "rsa-sha384": "sha384", "sha384withrsaencryption": "sha384",
	"sha512": "sha512", "rsa-sha512": "sha512", "sha512withrsaencryption": "sha512",
}

// b64 is the base64 of PHC strings: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// pbkdf2Hash is a parsed $pbkdf2-… hash.
type pbkdf2Hash struct {
	digest     string // canonical
	iterations int
	pw         string // password encoding
	salt, sum  []byte
}

func (p pbkdf2Hash) String() string {
	params := fmt.Sprintf("i=%d,l=%d", p.iterations, len(p.sum))
	if p.pw != "utf8" {
		params += ",pw=" + p.pw
	}
	return fmt.Sprintf("$pbkdf2-%s$%s$%s$%s", p.digest, params, b64.EncodeToString(p.salt), b64.EncodeToString(p.sum))
}

// parsePBKDF2 reads a $pbkdf2-<digest>$i=…,l=…$salt$hash string. Imported
// strings (foreign) may name the digest by an alias, omit i and l, and
// pad their base64; stored ones are in the form String writes.
func parsePBKDF2(s string, foreign bool) (pbkdf2Hash, error) {
	p := pbkdf2Hash{pw: "utf8", iterations: defaultPBKDF2Iterations}
	parts := strings.Split(s, "$")
	if foreign && len(parts) == 4 {
		// No parameters at all: Auth0's defaults.
		parts = []string{parts[0], parts[1], "", parts[2], parts[3]}
	}
	if len(parts) != 5 || parts[0] != "" || !strings.HasPrefix(parts[1], "pbkdf2-") {
		return p, errors.New("a pbkdf2 hash is a PHC string: $pbkdf2-<digest>$i=<iterations>,l=<key length>$<salt>$<hash>")
	}
	name := strings.TrimPrefix(parts[1], "pbkdf2-")
	digest, ok := pbkdf2Digests[strings.ToLower(name)]
	if !ok || (!foreign && digest != name) {
		return p, fmt.Errorf("pbkdf2 digest %q is not supported", name)
	}
	p.digest = digest
	keyLen := defaultPBKDF2KeyLen
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[2], ",") {
		if kv == "" && parts[2] == "" {
			break
		}
		k, v, _ := strings.Cut(kv, "=")
		if seen[k] {
			return p, fmt.Errorf("pbkdf2 parameter %q appears twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "i":
			p.iterations, err = strconv.Atoi(v)
		case "l":
			keyLen, err = strconv.Atoi(v)
		case "pw":
			if foreign {
				return p, fmt.Errorf("pbkdf2 parameter %q is not one of i and l", k)
			}
			p.pw, err = passwordEncoding(v)
		default:
			return p, fmt.Errorf("pbkdf2 parameter %q is not one of i and l", k)
		}
		if err != nil {
			return p, fmt.Errorf("pbkdf2 parameter %s=%q is not valid", k, v)
		}
	}
	if p.iterations < 1 || p.iterations > maxPBKDF2Iterations {
		return p, fmt.Errorf("pbkdf2 iterations %d are not between 1 and %d", p.iterations, maxPBKDF2Iterations)
	}
	var saltOK, sumOK bool
	if foreign {
		p.salt, saltOK = decodeBase64(parts[3])
		p.sum, sumOK = decodeBase64(parts[4])
	} else {
		p.salt, p.sum = mustB64(parts[3], &saltOK), mustB64(parts[4], &sumOK)
	}
	if !saltOK || !sumOK || len(p.sum) == 0 {
		return p, errors.New("pbkdf2 salt and hash must be base64")
	}
	if len(p.sum) != keyLen || keyLen > maxKeyLen {
		return p, fmt.Errorf("pbkdf2 hash is %d bytes long but l is %d", len(p.sum), keyLen)
	}
	return p, nil
}

func mustB64(s string, ok *bool) []byte {
	b, err := b64.DecodeString(s)
	*ok = err == nil
	return b
}

func (p pbkdf2Hash) verify(password string) (bool, error) {
	var key []byte
	var err error
	inSlot(func() {
		key, err = pbkdf2.Key(hashFuncs[p.digest], string(encodePassword(password, p.pw)), p.salt, p.iterations, len(p.sum))
	})
	if err != nil {
		return false, fmt.Errorf("pbkdf2: %w", err)
	}
	return subtle.ConstantTimeCompare(key, p.sum) == 1, nil
}

// digest is a parsed $digest-… or $hmac-… hash.
type digest struct {
	id        string // "digest-<alg>" or "hmac-<digest>"
	key       []byte // hmac only
	pos       string // "prefix" or "suffix"
	pw        string
	salt, sum []byte
}

func (d digest) String() string {
	params := fmt.Sprintf("pos=%s,pw=%s", d.pos, d.pw)
	if strings.HasPrefix(d.id, "hmac-") {
		params = "key=" + b64.EncodeToString(d.key) + "," + params
	}
	return fmt.Sprintf("$%s$%s$%s$%s", d.id, params, b64.EncodeToString(d.salt), b64.EncodeToString(d.sum))
}

func (d digest) hashFunc() (func() hash.Hash, bool) {
	name, isHMAC := strings.CutPrefix(d.id, "hmac-")
	if !isHMAC {
		name, _ = strings.CutPrefix(d.id, "digest-")
	}
	h, ok := hashFuncs[name]
	return h, ok
}

func parseDigest(s string) (digest, error) {
	var d digest
	parts := strings.Split(s, "$")
	if len(parts) != 5 || parts[0] != "" {
		return d, errMalformedHash
	}
	d.id = parts[1]
	h, ok := d.hashFunc()
	if !ok || (!strings.HasPrefix(d.id, "hmac-") && !strings.HasPrefix(d.id, "digest-")) {
		return d, errMalformedHash
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[2], ",") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		switch {
		case seen[k]:
			return d, errMalformedHash
		case k == "pos" && (v == "prefix" || v == "suffix"):
			d.pos = v
		case k == "pw":
			d.pw, err = passwordEncoding(v)
		case k == "key" && strings.HasPrefix(d.id, "hmac-"):
			d.key, err = b64.DecodeString(v)
		default:
			return d, errMalformedHash
		}
		if err != nil {
			return d, errMalformedHash
		}
		seen[k] = true
	}
	var saltOK, sumOK bool
	d.salt, d.sum = mustB64(parts[3], &saltOK), mustB64(parts[4], &sumOK)
	if !saltOK || !sumOK || d.pos == "" || d.pw == "" || len(d.sum) != h().Size() ||
		(strings.HasPrefix(d.id, "hmac-") && !seen["key"]) {
		return d, errMalformedHash
	}
	return d, nil
}

func (d digest) verify(password string) bool {
	h, _ := d.hashFunc()
	pw := encodePassword(password, d.pw)
	msg := append(append([]byte(nil), d.salt...), pw...)
	if d.pos == "suffix" {
		msg = append(append([]byte(nil), pw...), d.salt...)
	}
	var mac hash.Hash
	if strings.HasPrefix(d.id, "hmac-") {
		mac = hmac.New(h, d.key)
	} else {
		mac = h()
	}
	mac.Write(msg)
	return subtle.ConstantTimeCompare(mac.Sum(nil), d.sum) == 1
}

// ldapSchemes are the RFC 2307 schemes taken: the hash function of each,
// and whether a salt follows the digest.
var ldapSchemes = map[string]struct {
	name   string
	salted bool
}{
	"MD5": {"md5", false}, "SMD5": {"md5", true},
	"SHA": {"sha1", false}, "SSHA": {"sha1", true},
	"SHA256": {"sha256", false}, "SSHA256": {"sha256", true},
	"SHA384": {"sha384", false}, "SSHA384": {"sha384", true},
	"SHA512": {"sha512", false}, "SSHA512": {"sha512", true},
}

// parseLDAP reads {SCHEME}base64(digest[+salt]).
func parseLDAP(s string) (h func() hash.Hash, sum, salt []byte, err error) {
	scheme, rest, ok := strings.Cut(strings.TrimPrefix(s, "{"), "}")
	if !strings.HasPrefix(s, "{") || !ok {
		return nil, nil, nil, errors.New("an ldap hash is {SCHEME}base64, RFC 2307")
	}
	sch, ok := ldapSchemes[strings.ToUpper(scheme)]
	if !ok {
		return nil, nil, nil, fmt.Errorf("ldap scheme {%s} is not supported: use MD5, SMD5, SHA, SSHA, SHA256, SSHA256, SHA384, SSHA384, SHA512 or SSHA512", scheme)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, nil, nil, errors.New("ldap hash is not base64")
	}
	h = hashFuncs[sch.name]
	n := h().Size()
	if len(raw) < n || (!sch.salted && len(raw) != n) || (sch.salted && len(raw) == n) {
		return nil, nil, nil, fmt.Errorf("ldap hash {%s} has the wrong length", scheme)
	}
	return h, raw[:n], raw[n:], nil
}

// verifyLDAP checks H(password + salt) against an RFC 2307 hash.
func verifyLDAP(password, s string) (bool, error) {
	h, sum, salt, err := parseLDAP(s)
	if err != nil {
		return false, errMalformedHash
	}
	d := h()
	d.Write([]byte(password))
	d.Write(salt)
	return subtle.ConstantTimeCompare(d.Sum(nil), sum) == 1, nil
}

// argon2Hash is a parsed $argon2i$ or $argon2id$ PHC string.
type argon2Hash struct {
	id        string // "argon2i" or "argon2id"
	p         Params
	salt, sum []byte
}

// parseArgon2 reads an argon2i or argon2id PHC string of version 19, the
// one Go implements.
func parseArgon2(s string) (argon2Hash, error) {
	var a argon2Hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		if len(parts) == 5 && parts[0] == "" && strings.HasPrefix(parts[1], "argon2") {
			return a, errors.New("argon2 hash has no version: only v=19 (Argon2 1.3) is supported")
		}
		return a, errors.New("an argon2 hash is a PHC string: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>")
	}
	switch parts[1] {
	case "argon2i", "argon2id":
		a.id = parts[1]
	default:
		return a, fmt.Errorf("argon2 variant %q is not supported: use argon2i or argon2id", parts[1])
	}
	if parts[2] != "v=19" {
		return a, fmt.Errorf("argon2 version %q is not supported: only v=19 (Argon2 1.3)", parts[2])
	}
	var m, t, p uint64
	var err error
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return a, errors.New("argon2 parameters must be m=…,t=…,p=…")
	}
	for i, dst := range []*uint64{&m, &t, &p} {
		k, v, _ := strings.Cut(kv[i], "=")
		if k != "mtp"[i:i+1] {
			return a, errors.New("argon2 parameters must be m=…,t=…,p=…")
		}
		if *dst, err = strconv.ParseUint(v, 10, 32); err != nil {
			return a, fmt.Errorf("argon2 parameter %s is not a number", k)
		}
	}
	switch {
	case m < 8*p || m > maxArgon2Memory:
		return a, fmt.Errorf("argon2 memory m=%d is not between 8·p and %d KiB", m, maxArgon2Memory)
	case t < 1 || t > maxArgon2Time:
		return a, fmt.Errorf("argon2 passes t=%d are not between 1 and %d", t, maxArgon2Time)
	case p < 1 || p > 255:
		return a, fmt.Errorf("argon2 lanes p=%d are not between 1 and 255", p)
	}
	a.p = Params{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(p)}
	if a.salt, err = b64.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return a, errors.New("argon2 salt must be base64 of at least 8 bytes")
	}
	if a.sum, err = b64.DecodeString(parts[5]); err != nil || len(a.sum) < 4 || len(a.sum) > maxKeyLen {
		return a, errors.New("argon2 hash must be base64 of 4 to 1024 bytes")
	}
	return a, nil
}

func (a argon2Hash) verify(password string) bool {
	var got []byte
	if a.id == "argon2id" {
		got = idKey([]byte(password), a.salt, a.p, uint32(len(a.sum)))
	} else {
		inSlot(func() {
			got = argon2.Key([]byte(password), a.salt, a.p.Iterations, a.p.MemoryKiB, a.p.Parallelism, uint32(len(a.sum)))
		})
	}
	return subtle.ConstantTimeCompare(got, a.sum) == 1
}

// verifyImported checks password against a hash in one of the imported
// forms. cheap reports a hash that took far less time than argon2id, so
// that the caller can even out the time a login takes.
func verifyImported(password, encoded string) (ok, cheap bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2i$"):
		a, err := parseArgon2(encoded)
		if err != nil {
			return false, false, errMalformedHash
		}
		return a.verify(password), false, nil
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		if cost, err := bcrypt.Cost([]byte(encoded)); err != nil || cost > maxBcryptCost {
			return false, false, errMalformedHash
		}
		inSlot(func() { err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)) })
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, false, nil
		}
		return err == nil, false, err
	case strings.HasPrefix(encoded, "$pbkdf2-"):
		p, err := parsePBKDF2(encoded, false)
		if err != nil {
			return false, false, errMalformedHash
		}
		ok, err := p.verify(password)
		return ok, p.iterations < 10_000, err
	case strings.HasPrefix(encoded, "$digest-"), strings.HasPrefix(encoded, "$hmac-"):
		d, err := parseDigest(encoded)
		if err != nil {
			return false, false, err
		}
		return d.verify(password), true, nil
	case strings.HasPrefix(encoded, "{"):
		ok, err := verifyLDAP(password, encoded)
		return ok, true, err
	}
	return false, false, errMalformedHash
}

// inSlot runs a costly hash within a hash slot (see hashSlots).
func inSlot(fn func()) {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	fn()
}
