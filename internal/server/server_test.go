package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestRealClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name, peer, xff, want string
	}{
		{"untrusted peer: header ignored", "203.0.113.9:5000", "1.2.3.4", "203.0.113.9:5000"},
		{"trusted peer, one hop", "10.0.0.2:5000", "198.51.100.7", "198.51.100.7:0"},
		{"forged left entries are skipped", "10.0.0.2:5000", "1.1.1.1, 198.51.100.7, 10.0.0.3", "198.51.100.7:0"},
		{"all hops trusted: the leftmost", "10.0.0.2:5000", "10.0.0.9, 10.0.0.3", "10.0.0.9:0"},
		{"garbage stops the walk", "10.0.0.2:5000", "198.51.100.7, not-an-ip", "10.0.0.2:0"},
		{"trusted peer without header", "10.0.0.2:5000", "", "10.0.0.2:0"},
		{"IPv6 trusted peer", "[::1]:5000", "2001:db8::1", "[2001:db8::1]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := realClient(trusted, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("RemoteAddr = %q, want %q", got, tt.want)
			}
		})
	}
	// Without trusted proxies the handler is untouched.
	var got string
	h := realClient(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:5000"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != "10.0.0.2:5000" {
		t.Errorf("without trusted proxies RemoteAddr = %q", got)
	}
}
