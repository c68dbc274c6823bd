package mgmt_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func TestAPIs(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a, err := e.svc.CreateAPI(ctx, "https://api.example", mgmt.APISettings{Name: ptr(" Messages "),
		Scopes: &[]store.APIScope{{Name: "read:messages", Description: "Read"}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Messages" || a.SigningAlgorithm != "RS256" || !a.CreatedAt.Equal(e.now) || !a.UpdatedAt.Equal(e.now) {
		t.Errorf("created %+v", a)
	}
	if got, _ := e.st.GetAPI(ctx, a.Identifier); got.Name != "Messages" || len(got.Scopes) != 1 {
		t.Errorf("stored %+v", got)
	}
	_, err = e.svc.CreateAPI(ctx, "https://api.example", mgmt.APISettings{Name: ptr("Again")})
	wantError(t, err, http.StatusConflict, mgmt.CodeConflict, "", "already exists")

	e.now = e.now.Add(time.Hour)
	a, err = e.svc.UpdateAPI(ctx, a.Identifier, mgmt.APISettings{SigningAlgorithm: ptr("EdDSA"), AllowOfflineAccess: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Messages" || a.SigningAlgorithm != "EdDSA" || !a.AllowOfflineAccess || !a.UpdatedAt.Equal(e.now) {
		t.Errorf("updated %+v", a)
	}
	if !slices.Equal(e.rings.algs, []string{"RS256", "EdDSA"}) {
		t.Errorf("key rings ensured for %v, want RS256 then EdDSA", e.rings.algs)
	}
	_, err = e.svc.UpdateAPI(ctx, "https://nope.example", mgmt.APISettings{})
	wantError(t, err, http.StatusNotFound, "inexistent_resource_server", "", "not found")

	if err := e.svc.DeleteAPI(ctx, a.Identifier); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.DeleteAPI(ctx, a.Identifier), http.StatusNotFound, "inexistent_resource_server", "", "not found")

	// A key ring that cannot be created fails the call.
	e.rings.err = errors.New("no master key")
	if _, err := e.svc.CreateAPI(ctx, "https://b.example", mgmt.APISettings{Name: ptr("B")}); err == nil {
		t.Error("CreateAPI succeeded without its key ring")
	}
}

func TestAPIValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		identifier string
		in         mgmt.APISettings
		field, msg string
	}{
		{"relative identifier", "api", mgmt.APISettings{Name: ptr("A")}, "identifier", "absolute URI"},
		{"identifier with space", "https://a.example/x y", mgmt.APISettings{Name: ptr("A")}, "identifier", "absolute URI"},
		{"no name", "https://a.example", mgmt.APISettings{}, "name", "needs a name"},
		{"OIDC scope", "https://a.example", mgmt.APISettings{Name: ptr("A"), Scopes: &[]store.APIScope{{Name: "openid"}}}, "scopes", "OpenID Connect scope"},
		{"empty scope", "https://a.example", mgmt.APISettings{Name: ptr("A"), Scopes: &[]store.APIScope{{Name: ""}}}, "scopes", "must not be empty"},
		{"scope with space", "https://a.example", mgmt.APISettings{Name: ptr("A"), Scopes: &[]store.APIScope{{Name: "a b"}}}, "scopes", "spaces"},
		{"scope twice", "https://a.example", mgmt.APISettings{Name: ptr("A"), Scopes: &[]store.APIScope{{Name: "a"}, {Name: "a"}}}, "scopes", "twice"},
		{"algorithm", "https://a.example", mgmt.APISettings{Name: ptr("A"), SigningAlgorithm: ptr("HS256")}, "signing_alg", "not RS256"},
		{"lifetime", "https://a.example", mgmt.APISettings{Name: ptr("A"), TokenLifetime: ptr(31 * 24 * time.Hour)}, "token_lifetime", "30 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateAPI(t.Context(), tt.identifier, tt.in)
			wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, tt.field, tt.msg)
		})
	}
	if len(e.rings.algs) != 0 {
		t.Errorf("refused APIs created key rings: %v", e.rings.algs)
	}
}

func TestParseAPIScope(t *testing.T) {
	tests := []struct {
		in, name, desc string
		wantErr        bool
	}{
		{in: "read", name: "read", desc: "read"},
		{in: "read:messages", name: "read:messages", desc: "read:messages"},
		{in: "read:messages:Read your messages", name: "read:messages", desc: "Read your messages"},
		{in: "admin:Full access: everything", name: "admin", desc: "Full access: everything"},
		{in: "openid", wantErr: true},
		{in: ":Nothing here", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sc, err := mgmt.ParseAPIScope(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %t", err, tt.wantErr)
			}
			if !tt.wantErr && (sc.Name != tt.name || sc.Description != tt.desc) {
				t.Errorf("got %+v, want %q %q", sc, tt.name, tt.desc)
			}
		})
	}
}
