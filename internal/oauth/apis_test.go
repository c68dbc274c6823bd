package oauth

import "testing"

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
			sc, err := ParseAPIScope(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %t", err, tt.wantErr)
			}
			if !tt.wantErr && (sc.Name != tt.name || sc.Description != tt.desc) {
				t.Errorf("got %+v, want %q %q", sc, tt.name, tt.desc)
			}
		})
	}
}
