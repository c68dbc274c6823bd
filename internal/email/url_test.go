package email

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want URL
	}{
		{"log", URL{Log: true}},
		{"smtp://smtp.example.com", URL{Host: "smtp.example.com", Port: 587}},
		{"smtp://user:pa%40ss%2Fw@smtp.example.com:2525", URL{Host: "smtp.example.com", Port: 2525, Username: "user", Password: "pa@ss/w"}},
		{"smtps://apikey:secret@smtp.example.com", URL{Implicit: true, Host: "smtp.example.com", Port: 465, Username: "apikey", Password: "secret"}},
		{"smtps://smtp.example.com:1465/?timeout=20s", URL{Implicit: true, Host: "smtp.example.com", Port: 1465, Timeout: 20 * time.Second}},
		{"smtp://127.0.0.1:2525?tls=none", URL{NoTLS: true, Host: "127.0.0.1", Port: 2525}},
		{"smtp://u:p@[::1]:25?tls=none&timeout=1s", URL{NoTLS: true, Host: "::1", Port: 25, Username: "u", Password: "p", Timeout: time.Second}},
		{"smtp://localhost?tls=none", URL{NoTLS: true, Host: "localhost", Port: 587}},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "use smtp://"},
		{"LOG", "use smtp://"},
		{"smtp.example.com:587", "use smtp://"},
		{"http://smtp.example.com", "use smtp://"},
		{"smtp://", "no host"},
		{"smtp://user:hunter2@:587", "no host"},
		{"smtp://user:hunter2@smtp.example.com:0", "port"},
		{"smtp://user:hunter2@smtp.example.com:http", "not a URL"},
		{"smtp://user:hunter2@smtp.example.com/inbox", "no path"},
		{"smtp://user@smtp.example.com", "both a user name and a password"},
		{"smtp://:hunter2@smtp.example.com", "both a user name and a password"},
		{"smtp://user:hunter2@smtp.example.com?tls=none", "only for a loopback host"},
		{"smtp://user:hunter2@10.0.0.1?tls=none", "only for a loopback host"},
		{"smtps://user:hunter2@127.0.0.1?tls=none", "smtps:// is always TLS"},
		{"smtp://user:hunter2@smtp.example.com?tls=starttls", "the only choice is tls=none"},
		{"smtp://user:hunter2@smtp.example.com?timeout=forever", "timeout"},
		{"smtp://user:hunter2@smtp.example.com?timeout=10m", "timeout"},
		{"smtp://user:hunter2@smtp.example.com?pool=3", "unknown parameter"},
		{"smtp://user:hunter2@smtp.example.com?%zz", "bad query"},
		{"smtp://user:hun%zzter2@smtp.example.com", "not a URL"},
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURL(%q) = %v, want an error with %q", tt.in, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "hun%zz") {
			t.Errorf("ParseURL(%q) error leaks the password: %v", tt.in, err)
		}
	}
}

func TestURLString(t *testing.T) {
	for in, want := range map[string]string{
		"smtp://user:secret@smtp.example.com": "smtp://user:xxxxx@smtp.example.com:587",
		"smtps://smtp.example.com?timeout=3s": "smtps://smtp.example.com:465?timeout=3s",
		"smtp://[::1]:2525?tls=none":          "smtp://[::1]:2525?tls=none",
		"log":                                 "log",
	} {
		u, err := ParseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseURL(%q).String() = %q, %v; want %q", in, u.String(), err, want)
		}
	}
}
