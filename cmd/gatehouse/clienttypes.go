package main

import (
	"flag"
	"fmt"
	"os"

	"gatehouse/internal/mgmt"
)

// clientTypeFlags are the application settings of single-page, native
// and private_key_jwt applications.
type clientTypeFlags struct {
	webOrigins, allowedOrigins multiFlag
	requirePKCE                bool
	idTokenAlg                 string
	jwks                       fileFlag
}

func (f *clientTypeFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.webOrigins, "web-origin", "allowed web `origin` that may frame the web_message response (repeatable; on update replaces the list)")
	fs.Var(&f.allowedOrigins, "allowed-origin", "allowed `origin` for CORS on the token, userinfo and revocation endpoints (repeatable; on update replaces the list)")
	fs.BoolVar(&f.requirePKCE, "require-pkce", true, "require PKCE of a confidential application (new applications: on; --require-pkce=false to turn it off)")
	fs.StringVar(&f.idTokenAlg, "id-token-alg", "", "ID token signing algorithm: RS256 (default), ES256 or EdDSA")
	fs.Var(&f.jwks, "jwks", "`file` holding the JSON Web Key Set of the public keys that sign a private_key_jwt application's client assertions")
}

// visit sets the setting of the flag name, when it is one of these.
func (f *clientTypeFlags) visit(name string, s *mgmt.ClientSettings) {
	switch name {
	case "web-origin":
		s.WebOrigins = (*[]string)(&f.webOrigins)
	case "allowed-origin":
		s.AllowedOrigins = (*[]string)(&f.allowedOrigins)
	case "require-pkce":
		s.RequirePKCE = &f.requirePKCE
	case "id-token-alg":
		s.IDTokenSigningAlg = &f.idTokenAlg
	case "jwks":
		v := string(f.jwks)
		s.JWKS = &v
	}
}

// fileFlag is a flag whose value is the content of the file it names.
type fileFlag string

func (f *fileFlag) String() string { return "" }

func (f *fileFlag) Set(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	*f = fileFlag(b)
	return nil
}
