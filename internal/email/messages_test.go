package email

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	to        = "ada@example.com"
	verifyURL = "https://id.example.com/u/verify?token=abc_DEF-123&state=x%2Fy"
	loginURL  = "https://id.example.com/u/login?organization=acme"
	forgotURL = "https://id.example.com/u/forgot?email=ada%40example.com"
)

var acme = Branding{AppName: "Example App", OrgName: "Acme Corp", LogoURL: "https://acme.example/logo.png", PrimaryColor: "#FFD700"}

// TestMessages renders every message with and without an organization's
// branding and compares them with the golden files in testdata (-update
// rewrites them): the wording is reviewed there.
func TestMessages(t *testing.T) {
	tests := []struct {
		name    string
		build   func(b Branding) (Message, error)
		subject string // with acme's branding
		links   []string
	}{
		{"verify_email", func(b Branding) (Message, error) { return VerifyEmail(to, b, verifyURL, 24*time.Hour) },
			"Verify your email address for Acme Corp", []string{verifyURL}},
		{"reset_password", func(b Branding) (Message, error) { return ResetPassword(to, b, verifyURL, 30*time.Minute) },
			"Reset your Acme Corp password", []string{verifyURL}},
		{"account_exists", func(b Branding) (Message, error) { return AccountExists(to, b, loginURL, forgotURL) },
			"You already have an account with Acme Corp", []string{loginURL, forgotURL}},
		{"password_changed", func(b Branding) (Message, error) { return PasswordChanged(to, b, forgotURL) },
			"Your Acme Corp password was changed", []string{forgotURL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.build(acme)
			if err != nil {
				t.Fatal(err)
			}
			if m.To != to || m.Kind != tt.name || m.Subject != tt.subject {
				t.Errorf("To %q, Kind %q, Subject %q", m.To, m.Kind, m.Subject)
			}
			if got := Links(m.Text); !cmp.Equal(got, tt.links) {
				t.Errorf("text links %q, want %q", got, tt.links)
			}
			for _, l := range tt.links {
				if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(l, "&", "&amp;")+`"`) {
					t.Errorf("the HTML part has no link to %q", l)
				}
			}
			for _, want := range []string{`src="https://acme.example/logo.png" alt="Acme Corp"`, "background:#ffd700", "color:#1d2330", "for Acme Corp to ada@example.com"} {
				if !strings.Contains(m.HTML, want) {
					t.Errorf("the HTML part lacks %q", want)
				}
			}
			golden(t, tt.name+".txt", m.Text)
			golden(t, tt.name+".html", m.HTML)

			plain, err := tt.build(Branding{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plain.Subject, "Gatehouse") || strings.Contains(plain.HTML, "<img") ||
				!strings.Contains(plain.HTML, "background:#2454d6") || !strings.Contains(plain.HTML, "color:#ffffff") {
				t.Errorf("unbranded message: %q\n%s", plain.Subject, plain.HTML)
			}
			golden(t, tt.name+".plain.txt", plain.Text)
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, d)
	}
}

// TestBranding: what an organization controls is checked and escaped.
func TestBranding(t *testing.T) {
	tests := []struct {
		name      string
		b         Branding
		subject   string
		want, not []string // in / not in the HTML part
	}{
		{name: "http logo dropped", b: Branding{OrgName: "Acme", LogoURL: "http://acme.example/logo.png"},
			subject: "Reset your Acme password", not: []string{"<img", "acme.example"}},
		{name: "script logo dropped", b: Branding{OrgName: "Acme", LogoURL: "javascript:alert(1)"},
			subject: "Reset your Acme password", not: []string{"<img", "javascript"}},
		{name: "bad color ignored", b: Branding{OrgName: "Acme", PrimaryColor: "red;background:url(https://evil.example)"},
			subject: "Reset your Acme password", want: []string{"background:#2454d6"}, not: []string{"evil", "red;"}},
		{name: "dark color gets white text", b: Branding{PrimaryColor: "#102030"},
			subject: "Reset your Gatehouse password", want: []string{"background:#102030", "color:#ffffff"}},
		{name: "markup in names escaped", b: Branding{AppName: `<b>App</b>`, OrgName: `Acme <script>alert(1)</script>`},
			subject: "Reset your Acme <script>alert(1)</script> password",
			want:    []string{"Acme &lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;App&lt;/b&gt;"}, not: []string{"<script>", "<b>"}},
		{name: "names on one line", b: Branding{AppName: "Example\r\nBcc: x@evil.example", OrgName: ""},
			subject: "Reset your Example Bcc: x@evil.example password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ResetPassword(to, tt.b, verifyURL, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.subject {
				t.Errorf("subject %q, want %q", m.Subject, tt.subject)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.HTML, w) {
					t.Errorf("HTML lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(m.HTML, n) {
					t.Errorf("HTML holds %q", n)
				}
			}
		})
	}
}

func TestMessageErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func() (Message, error)
		want  string
	}{
		{"bad recipient", func() (Message, error) { return VerifyEmail("ada", Branding{}, verifyURL, time.Hour) }, "recipient"},
		{"relative link", func() (Message, error) { return VerifyEmail(to, Branding{}, "/u/verify?token=x", time.Hour) }, "link"},
		{"javascript link", func() (Message, error) { return ResetPassword(to, Branding{}, "javascript:alert(1)", time.Hour) }, "link"},
		{"link with a space", func() (Message, error) { return ResetPassword(to, Branding{}, "https://id.example.com/a b", time.Hour) }, "link"},
		{"no lifetime", func() (Message, error) { return ResetPassword(to, Branding{}, verifyURL, 0) }, "lifetime"},
		{"bad login link", func() (Message, error) { return AccountExists(to, Branding{}, "", forgotURL) }, "link"},
		{"bad reset link", func() (Message, error) { return AccountExists(to, Branding{}, loginURL, "ftp://x") }, "link"},
		{"bad notice link", func() (Message, error) { return PasswordChanged(to, Branding{}, "x") }, "link"},
		{"notice recipient", func() (Message, error) { return PasswordChanged("", Branding{}, "") }, "recipient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.build(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	// Optional links may be left out.
	if m, err := AccountExists(to, Branding{}, loginURL, ""); err != nil || len(Links(m.Text)) != 1 {
		t.Errorf("AccountExists without a reset link: %v %q", err, Links(m.Text))
	}
	if m, err := PasswordChanged(to, Branding{}, ""); err != nil || len(Links(m.Text)) != 0 || !strings.Contains(m.Text, "from the login page") {
		t.Errorf("PasswordChanged without a link: %v\n%s", err, m.Text)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1 minute", 30 * time.Minute: "30 minutes", 90 * time.Minute: "90 minutes", time.Hour: "1 hour",
		24 * time.Hour: "24 hours", 48 * time.Hour: "2 days", 7 * 24 * time.Hour: "7 days", 90 * time.Second: "2 minutes",
	} {
		if got, err := humanDuration(d); err != nil || got != want {
			t.Errorf("humanDuration(%v) = %q, %v; want %q", d, got, err, want)
		}
	}
}
