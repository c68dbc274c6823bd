package database

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/connector"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
)

// importVectors are hashes made by other implementations, each with the
// password it was made from. Their sources:
//   - published: Auth0's bulk import documentation (bcrypt of "hello",
//     MD5('salt' + 'password')), an Auth0 import example (SHA-256 of
//     "keyboardcat" + "hello"), Openwall's crypt_blowfish tests ("U*U"),
//     the Argon2 reference implementation's tests ("password", salt
//     "somesalt"), RFC 1320 (MD4), RFC 2307 examples ({SHA} and {MD5} of
//     "password"), and a PBKDF2 migration guide (Test@123);
//   - computed for these tests with Python 3's hashlib and hmac modules
//     (the rest), never with Gatehouse's code.
var importVectors = []struct {
	name     string
	spec     HashSpec
	password string
}{
	// bcrypt, through password_hash or custom_password_hash.
	{"bcrypt 2b (Auth0 docs)", HashSpec{Algorithm: AlgBcrypt, Hash: "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}, "hello"},
	{"bcrypt 2a (Openwall)", HashSpec{Algorithm: AlgBcrypt, Hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", Encoding: "utf8"}, "U*U"},

	// argon2 PHC strings.
	{"argon2id (reference)", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}, "password"},
	{"argon2id 64 MiB (reference)", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"}, "password"},
	{"argon2i (reference)", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ$T/XOJ2mh1/TIpJHfCdQan76Q5esCFVoT5MAeIM1Oq2E"}, "password"},

	// PBKDF2 PHC strings.
	{"pbkdf2-sha1 (published)", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=10000,l=20$wJuJqLoUFsdXa8k3sFhRlA$XMGVWTbeKf4Xd+CGiuEZde8x7QA", Encoding: "utf8"}, "Test@123"},
	{"pbkdf2-sha256 (published)", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha256$i=10000,l=32$wJuJqLoUFsdXa8k3sFhRlA$2waKCbPhZzL+RjWMQqvA1jpb+j56jTAXcNmRD9UTekU"}, "Test@123"},
	{"pbkdf2-sha512 with Auth0's defaults", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha512$MDEyMzQ1Njc4OWFiY2RlZg$C+dOFpKqFeIzUANU3ZXZkPDPTPiTOG2osuKiNKUrSFW2RC7gk1XaF+MReHmX9491VuSWI/UHg5Na7+8UfaJVQA"}, "correct horse"},
	{"pbkdf2 RSA-MD5 alias", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-RSA-MD5$i=1000,l=16$MDEyMzQ1Njc4OWFiY2RlZg$lIsYoihEtOcMHXpjc2ddPw"}, "correct horse"},
	{"pbkdf2-sha1 with i only", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=2000$MDEyMzQ1Njc4OWFiY2RlZg$gX9RUpE8JhvDclKGUCPgeeMQAOEJPsnRD4uPHjIaiBdwulfEUyt0IAbEeCAntBUhetinKzdokviAh1SL4B19cw"}, "correct horse"},
	{"pbkdf2-sha256 of UTF-16LE", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha256$i=5000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$3DgDa+svmFs8pPLskk2u62wfIq9377Ky91L6qj56Ux4", PasswordEncoding: "utf16le"}, "correct horse"},

	// Salted digests.
	{"md5 salt prefix (Auth0 docs)", HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", Salt: "salt", SaltPosition: "prefix"}, "password"},
	{"sha256 salt prefix (Auth0 example)", HashSpec{Algorithm: AlgSHA256, Hash: "7054f76f832d2d4e244f73b3f3f4c3702cb60a573ed12441c90f159df560fcb5", Encoding: "hex", Salt: "keyboardcat", SaltPosition: "prefix"}, "hello"},
	{"md5 salt suffix, upper-case hex", HashSpec{Algorithm: AlgMD5, Hash: "5AF3612CB8AD14D34CD17B21CEEB449D", Encoding: "hex", Salt: "NaCl", SaltPosition: "suffix"}, "correct horse"},
	{"sha1 base64, base64 salt", HashSpec{Algorithm: AlgSHA1, Hash: "ZaQrvMfWCwK3aX/ilSu/qDgXRFs=", Encoding: "base64", Salt: "AP8QIDBA", SaltEncoding: "base64", SaltPosition: "prefix"}, "correct horse"},
	{"sha512 hex, hex salt suffix", HashSpec{Algorithm: AlgSHA512, Encoding: "hex", Salt: "00FF10203040", SaltEncoding: "hex", SaltPosition: "suffix",
		Hash: "b0ae8e6ea1ae53a3688e7446cc1f1f691f11bfec97c2eb067126c94e7154f233a581cbc9a6426cf89fb349aacda33a17db33bdd988e71134941141b4dfafb515"}, "correct horse"},
	{"sha256 unsalted, URL-safe base64", HashSpec{Algorithm: AlgSHA256, Hash: "QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE", Encoding: "base64"}, "correct horse"},
	{"sha256 of UTF-16LE", HashSpec{Algorithm: AlgSHA256, Hash: "09c9618e4d20f94afeaca06ef9c446c2aebcc4e1b84d2c48f48682114de95f09", Encoding: "hex", Salt: "s4lt", SaltPosition: "prefix", PasswordEncoding: "ucs2"}, "pässwörd €"},
	{"md5 of latin1", HashSpec{Algorithm: AlgMD5, Hash: "2ca67a2dbf3a2f52ef5126a2ae8f8a2f", Encoding: "hex", PasswordEncoding: "latin1"}, "pässwörd"},
	{"md4 (RFC 1320)", HashSpec{Algorithm: AlgMD4, Hash: "a448017aaf21d8525fc10ae87aa6729d", Encoding: "hex"}, "abc"},
	{"md4 message digest (RFC 1320)", HashSpec{Algorithm: AlgMD4, Hash: "d9130a8164549fe818874806e1c7014b", Encoding: "hex"}, "message digest"},

	// HMAC.
	{"hmac-sha256, utf8 key", HashSpec{Algorithm: AlgHMAC, Digest: "sha256", Key: "secret-key", Hash: "bGlnvOOUsufVfkhHRxlKU90SPoW+j71yGEhszho0c0M=", Encoding: "base64"}, "correct horse"},
	{"hmac-md5, hex key, salt suffix", HashSpec{Algorithm: AlgHMAC, Digest: "md5", Key: "0a0b0c", KeyEncoding: "hex", Hash: "403c34abd738eb434878c43dca751acf", Encoding: "hex", Salt: "pepper", SaltPosition: "suffix"}, "correct horse"},
	{"hmac-ripemd160", HashSpec{Algorithm: AlgHMAC, Digest: "ripemd160", Key: "k", Hash: "93f52e4ad62d72bec65fa301658fcecc0cbc5a8f", Encoding: "hex"}, "correct horse"},

	// LDAP, RFC 2307.
	{"ldap SHA (RFC 2307 example)", HashSpec{Algorithm: AlgLDAP, Hash: "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="}, "password"},
	{"ldap MD5 (RFC 2307 example)", HashSpec{Algorithm: AlgLDAP, Hash: "{MD5}X03MO1qnZdYdgyfeuILPmQ==", Encoding: "utf8"}, "password"},
	{"ldap SSHA", HashSpec{Algorithm: AlgLDAP, Hash: "{SSHA}ZyIkHgDuEvfzL1muCFclh6UATi8BAgMEBQ=="}, "secret"},
	{"ldap ssha512, lower-case scheme", HashSpec{Algorithm: AlgLDAP, Hash: "{ssha512}m3x94pSsJeSydj1UlSQC+KlYPAB/a+oKchuvxgiWjHXqH5Nfv4hhfJK39Dw+ze+zbRvGlmMvLLLt1vkhQb1lOwECAwQF"}, "secret"},
	{"ldap SMD5", HashSpec{Algorithm: AlgLDAP, Hash: "{SMD5}19nVdsSP5COpBj3GnRtK+wECAwQF"}, "secret"},
}

func TestImportedHashVectors(t *testing.T) {
	for _, tt := range importVectors {
		t.Run(tt.name, func(t *testing.T) {
			stored, err := ImportHash(tt.spec)
			if err != nil {
				t.Fatalf("ImportHash: %v", err)
			}
			if !NeedsRehash(stored, OWASP) {
				t.Errorf("imported hash %q does not need a rehash", stored)
			}
			if ok, err := VerifyPassword(tt.password, stored); !ok || err != nil {
				t.Errorf("right password against %q: %t, %v", stored, ok, err)
			}
			for _, wrong := range []string{tt.password + "x", strings.ToUpper(tt.password), ""} {
				if wrong == tt.password {
					continue
				}
				if ok, err := VerifyPassword(wrong, stored); ok || err != nil {
					t.Errorf("wrong password %q against %q: %t, %v", wrong, stored, ok, err)
				}
			}
		})
	}
}

// TestImportedHashForms pins the stored forms, which are part of the
// database: a change would strand imported users.
func TestImportedHashForms(t *testing.T) {
	tests := []struct {
		spec HashSpec
		want string
	}{
		{HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-RSA-MD5$i=1000,l=16$MDEyMzQ1Njc4OWFiY2RlZg$lIsYoihEtOcMHXpjc2ddPw=="},
			"$pbkdf2-md5$i=1000,l=16$MDEyMzQ1Njc4OWFiY2RlZg$lIsYoihEtOcMHXpjc2ddPw"},
		{HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha256$i=5000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$3DgDa+svmFs8pPLskk2u62wfIq9377Ky91L6qj56Ux4", PasswordEncoding: "ucs2"},
			"$pbkdf2-sha256$i=5000,l=32,pw=utf16le$MDEyMzQ1Njc4OWFiY2RlZg$3DgDa+svmFs8pPLskk2u62wfIq9377Ky91L6qj56Ux4"},
		{HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", Salt: "salt", SaltPosition: "prefix"},
			"$digest-md5$pos=prefix,pw=utf8$c2FsdA$Z6Hgm7H4P1AH3BGcFNZjqg"},
		{HashSpec{Algorithm: AlgSHA256, Hash: "QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE", Encoding: "base64", PasswordEncoding: "binary"},
			"$digest-sha256$pos=prefix,pw=latin1$$QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE"},
		{HashSpec{Algorithm: AlgHMAC, Digest: "md5", Key: "0a0b0c", KeyEncoding: "hex", Hash: "403c34abd738eb434878c43dca751acf", Encoding: "hex", Salt: "pepper", SaltPosition: "suffix"},
			"$hmac-md5$key=CgsM,pos=suffix,pw=utf8$cGVwcGVy$QDw0q9c460NIeMQ9ynUazw"},
		{HashSpec{Algorithm: AlgBcrypt, Hash: "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
			"$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
		{HashSpec{Algorithm: AlgLDAP, Hash: "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="}, "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="},
	}
	for _, tt := range tests {
		got, err := ImportHash(tt.spec)
		if err != nil || got != tt.want {
			t.Errorf("ImportHash(%+v) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
}

func TestImportHashRefused(t *testing.T) {
	tests := []struct {
		name  string
		spec  HashSpec
		field string
		msg   string
	}{
		{"no algorithm", HashSpec{Hash: "x"}, "algorithm", "required"},
		{"unknown algorithm", HashSpec{Algorithm: "scrypt", Hash: "x"}, "algorithm", `"scrypt" is not one of`},
		{"bcrypt 2x", HashSpec{Algorithm: AlgBcrypt, Hash: "$2x$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}, "hash.value", "$2a$, $2b$ or $2y$"},
		{"bcrypt truncated", HashSpec{Algorithm: AlgBcrypt, Hash: "$2b$10$nFguVi9LsCAcvTZFKQlRKe"}, "hash.value", "not a bcrypt hash"},
		{"bcrypt too costly", HashSpec{Algorithm: AlgBcrypt, Hash: "$2b$31$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"}, "hash.value", "cost 31 is above 16"},
		{"bcrypt hex", HashSpec{Algorithm: AlgBcrypt, Hash: "$2b$10$x", Encoding: "hex"}, "hash.encoding", "must be utf8"},
		{"bcrypt salt", HashSpec{Algorithm: AlgBcrypt, Hash: "$2b$10$x", Salt: "s"}, "salt", "not allowed"},
		{"bcrypt utf16", HashSpec{Algorithm: AlgBcrypt, Hash: "$2b$10$x", PasswordEncoding: "utf16le"}, "password.encoding", "must be utf8"},
		{"argon2d", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2d$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}, "hash.value", `"argon2d" is not supported`},
		{"argon2 v=16", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2i$v=16$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}, "hash.value", "only v=19"},
		{"argon2 without version", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2i$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}, "hash.value", "no version"},
		{"argon2 huge memory", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2id$v=19$m=4194304,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}, "hash.value", "memory"},
		{"argon2 parameters out of order", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2id$v=19$t=2,m=256,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}, "hash.value", "m=…,t=…,p=…"},
		{"argon2 short salt", HashSpec{Algorithm: AlgArgon2, Hash: "$argon2id$v=19$m=256,t=2,p=2$c2FsdA$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"}, "hash.value", "salt"},
		{"argon2 not PHC", HashSpec{Algorithm: AlgArgon2, Hash: "argon2"}, "hash.value", "PHC string"},
		{"pbkdf2 whirlpool", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-whirlpool$i=1,l=16$c2FsdA$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", `"whirlpool" is not supported`},
		{"pbkdf2 length mismatch", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=1000,l=20$c2FsdA$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", "16 bytes long but l is 20"},
		{"pbkdf2 default length mismatch", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=1000$c2FsdA$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", "l is 64"},
		{"pbkdf2 too many iterations", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=99999999,l=16$c2FsdA$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", "iterations"},
		{"pbkdf2 unknown parameter", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=1000,l=16,pw=utf16le$c2FsdA$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", `"pw" is not one of i and l`},
		{"pbkdf2 repeated parameter", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=1000,i=16$c2FsdA$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", "twice"},
		{"pbkdf2 bad number", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=many,l=16$c2FsdA$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", "not valid"},
		{"pbkdf2 bad salt", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=1000,l=16$!!$lIsYoihEtOcMHXpjc2ddPw"}, "hash.value", "base64"},
		{"pbkdf2 salt field", HashSpec{Algorithm: AlgPBKDF2, Hash: "$pbkdf2-sha1$i=1000,l=16$c2FsdA$lIsYoihEtOcMHXpjc2ddPw", SaltPosition: "prefix"}, "salt", "not allowed"},
		{"pbkdf2 not PHC", HashSpec{Algorithm: AlgPBKDF2, Hash: "pbkdf2:sha256:1000$salt$hash"}, "hash.value", "PHC string"},
		{"sha256 without encoding", HashSpec{Algorithm: AlgSHA256, Hash: "QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE"}, "hash.encoding", "is required"},
		{"sha256 utf8 encoding", HashSpec{Algorithm: AlgSHA256, Hash: "x", Encoding: "utf8"}, "hash.encoding", "hex or base64"},
		{"sha256 wrong length", HashSpec{Algorithm: AlgSHA256, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex"}, "hash.value", "16 bytes long; a sha256 hash is 32"},
		{"md5 not hex", HashSpec{Algorithm: AlgMD5, Hash: "xyz", Encoding: "hex"}, "hash.value", "not hexadecimal"},
		{"md5 not base64", HashSpec{Algorithm: AlgMD5, Hash: "!!!", Encoding: "base64"}, "hash.value", "not base64"},
		{"salt without position", HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", Salt: "salt"}, "salt.position", "required"},
		{"salt in the middle", HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", Salt: "salt", SaltPosition: "middle"}, "salt.position", "prefix or suffix"},
		{"position without salt", HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", SaltPosition: "prefix"}, "salt.value", "required"},
		{"salt encoding", HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", Salt: "salt", SaltPosition: "prefix", SaltEncoding: "rot13"}, "salt", `"rot13" is not hex`},
		{"password encoding", HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", PasswordEncoding: "ebcdic"}, "password.encoding", `"ebcdic"`},
		{"digest on md5", HashSpec{Algorithm: AlgMD5, Hash: "67A1E09BB1F83F5007DC119C14D663AA", Encoding: "hex", Digest: "sha1"}, "hash", "hmac only"},
		{"hmac without digest", HashSpec{Algorithm: AlgHMAC, Key: "k", Hash: "x", Encoding: "hex"}, "hash.digest", "required"},
		{"hmac whirlpool", HashSpec{Algorithm: AlgHMAC, Digest: "whirlpool", Key: "k", Hash: "x", Encoding: "hex"}, "hash.digest", `"whirlpool" is not supported`},
		{"hmac without key", HashSpec{Algorithm: AlgHMAC, Digest: "sha1", Hash: "x", Encoding: "hex"}, "hash.key.value", "required"},
		{"hmac bad key", HashSpec{Algorithm: AlgHMAC, Digest: "sha1", Key: "zz", KeyEncoding: "hex", Hash: "x", Encoding: "hex"}, "hash.key", "not hexadecimal"},
		{"ldap crypt", HashSpec{Algorithm: AlgLDAP, Hash: "{CRYPT}aa1234567890"}, "hash.value", "{CRYPT} is not supported"},
		{"ldap not a scheme", HashSpec{Algorithm: AlgLDAP, Hash: "W6ph5Mm5Pz8GgiULbPgzG37mj9g="}, "hash.value", "RFC 2307"},
		{"ldap bad base64", HashSpec{Algorithm: AlgLDAP, Hash: "{SHA}!!"}, "hash.value", "not base64"},
		{"ldap salted without salt", HashSpec{Algorithm: AlgLDAP, Hash: "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="}, "hash.value", "wrong length"},
		{"ldap unsalted with a salt", HashSpec{Algorithm: AlgLDAP, Hash: "{SHA}ZyIkHgDuEvfzL1muCFclh6UATi8BAgMEBQ=="}, "hash.value", "wrong length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ImportHash(tt.spec)
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("ImportHash = %q, %v; want a *SpecError", got, err)
			}
			if se.Field != tt.field || !strings.Contains(se.Message, tt.msg) {
				t.Errorf("error %+v, want field %q with %q", *se, tt.field, tt.msg)
			}
		})
	}
}

// TestVerifyMalformedStored: a stored hash that is none of the forms is an
// error, never a match.
func TestVerifyMalformedStored(t *testing.T) {
	for _, bad := range []string{
		"$argon2d$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
		"$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ",
		"$2b$10$short",
		"$2b$31$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K",
		"$pbkdf2-RSA-MD5$i=1000,l=16$MDEyMzQ1Njc4OWFiY2RlZg$lIsYoihEtOcMHXpjc2ddPw", // an alias is not a stored form
		"$pbkdf2-md5$MDEyMzQ1Njc4OWFiY2RlZg$lIsYoihEtOcMHXpjc2ddPw",                 // nor are omitted parameters
		"$digest-md5$pw=utf8$$Z6HgmbH4P1AH3BGcFNZjqg",                               // no position
		"$digest-md5$pos=prefix$$Z6HgmbH4P1AH3BGcFNZjqg",                            // no password encoding
		"$digest-md5$pos=prefix,pw=utf8$$Z6Hg",                                      // wrong length
		"$digest-md6$pos=prefix,pw=utf8$$Z6HgmbH4P1AH3BGcFNZjqg",
		"$digest-md5$pos=prefix,pw=utf8,key=CgsM$$Z6HgmbH4P1AH3BGcFNZjqg", // a key without hmac
		"$hmac-md5$pos=suffix,pw=utf8$cGVwcGVy$QDw0q9c460NIeMQ9ynUazw",    // hmac without a key
		"$hmac-md5$key=CgsM,pos=suffix,pos=prefix,pw=utf8$$QDw0q9c460NIeMQ9ynUazw",
		"{SHA}!!",
		"md5:abc",
	} {
		if ok, err := VerifyPassword("password", bad); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %t, %v; want an error", bad, ok, err)
		}
	}
}

func TestEncodePassword(t *testing.T) {
	tests := []struct {
		in, enc string
		want    []byte
	}{
		{"aé€", "utf8", []byte("aé€")},
		{"aé€", "utf16le", []byte{'a', 0, 0xe9, 0, 0xac, 0x20}},
		{"aé€", "latin1", []byte{'a', 0xe9, 0xac}},
		{"😀", "utf16le", []byte{0x3d, 0xd8, 0x00, 0xde}},
		{"😀", "latin1", []byte{0x3d, 0x00}},
	}
	for _, tt := range tests {
		if got := encodePassword(tt.in, tt.enc); string(got) != string(tt.want) {
			t.Errorf("encodePassword(%q, %s) = %x, want %x", tt.in, tt.enc, got, tt.want)
		}
	}
}

// TestLoginRehashesImported: the first successful login of a user with an
// imported hash replaces it with an argon2id hash of the password; a
// failed or refused login leaves it.
func TestLoginRehashesImported(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := Open(Config{Store: st, Params: cheap})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	add := func(email string, v int, blocked bool) store.User {
		t.Helper()
		hash, err := ImportHash(importVectors[v].spec)
		if err != nil {
			t.Fatal(err)
		}
		u := store.User{ID: "gatehouse|" + email, Connection: store.DefaultDatabaseConnection, Email: email,
			PasswordHash: hash, Blocked: blocked, CreatedAt: created, UpdatedAt: created,
			Identities: []store.Identity{{Connection: store.DefaultDatabaseConnection, Provider: "gatehouse", UserID: email}}}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	stored := func(id string) store.User {
		t.Helper()
		u, err := st.GetUser(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	for i, v := range importVectors {
		t.Run(v.name, func(t *testing.T) {
			email := strings.ReplaceAll(strings.ToLower(v.name), " ", "") + "@example.com"
			email = strings.Map(func(r rune) rune {
				if strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789@.", r) {
					return r
				}
				return '-'
			}, email)
			u := add(email, i, false)
			if _, err := c.Login(ctx, email, v.password+"!"); !errors.Is(err, connector.ErrInvalidCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			if got := stored(u.ID); got.PasswordHash != u.PasswordHash {
				t.Fatalf("a failed login changed the hash to %q", got.PasswordHash)
			}
			got, err := c.Login(ctx, email, v.password)
			if err != nil {
				t.Fatalf("login with the imported hash: %v", err)
			}
			after := stored(u.ID)
			if !strings.HasPrefix(after.PasswordHash, "$argon2id$v=19$m=8192,t=1,p=1$") || got.PasswordHash != after.PasswordHash {
				t.Fatalf("hash after login %q (returned %q), want the connector's argon2id", after.PasswordHash, got.PasswordHash)
			}
			if !after.UpdatedAt.Equal(created) {
				t.Errorf("the rehash moved UpdatedAt to %v", after.UpdatedAt)
			}
			if _, err := c.Login(ctx, email, v.password); err != nil {
				t.Errorf("login with the new hash: %v", err)
			}
			if _, err := c.Login(ctx, email, v.password+"!"); !errors.Is(err, connector.ErrInvalidCredentials) {
				t.Errorf("wrong password against the new hash: %v", err)
			}
			if again := stored(u.ID); again.PasswordHash != after.PasswordHash {
				t.Errorf("a second login rehashed again")
			}
		})
	}

	t.Run("blocked", func(t *testing.T) {
		u := add("blocked@example.com", 0, true)
		if _, err := c.Login(ctx, u.Email, importVectors[0].password); !errors.Is(err, connector.ErrBlocked) {
			t.Fatalf("blocked user: %v", err)
		}
		if got := stored(u.ID); got.PasswordHash != u.PasswordHash {
			t.Errorf("a blocked user's login changed the hash to %q", got.PasswordHash)
		}
	})
}
