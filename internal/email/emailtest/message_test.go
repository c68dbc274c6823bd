package emailtest

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	crlf := func(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
	tests := []struct {
		name                 string
		raw                  []byte
		subject, ctype       string
		text, html           string
		textLinks, htmlLinks []string
	}{
		{
			name: "quoted-printable alternative",
			raw: crlf(`From: a@example.com
To: b@example.com
Subject: =?UTF-8?q?R=C3=A9initialiser?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Open https://id.example.com/u/reset?token=3D0123456789abcdefghijklmnopqrstuvwxyzABCDEFG=
HIJ&x=3D1 now.
--b1
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<a href=3D"https://id.example.com/u/reset?token=3Dabc&amp;x=3D1">go</a>
--b1--
`),
			subject: "Réinitialiser", ctype: "multipart/alternative",
			text:      "Open https://id.example.com/u/reset?token=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ&x=1 now.",
			html:      `<a href="https://id.example.com/u/reset?token=abc&amp;x=1">go</a>`,
			textLinks: []string{"https://id.example.com/u/reset?token=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ&x=1"},
			htmlLinks: []string{"https://id.example.com/u/reset?token=abc&x=1"},
		},
		{
			name: "base64 inside mixed",
			raw: crlf(`Subject: plain
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain
Content-Transfer-Encoding: base64

aHR0cHM6Ly9leGFt
cGxlLmNvbS94
--inner--
--outer--
`),
			subject: "plain", ctype: "multipart/mixed", text: "https://example.com/x",
			textLinks: []string{"https://example.com/x"},
		},
		{
			name:    "single part",
			raw:     crlf("Subject: hi\n\nhello http://a.example/b\n"),
			subject: "hi", ctype: "text/plain", text: "hello http://a.example/b\r\n",
			textLinks: []string{"http://a.example/b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.subject || m.ContentType != tt.ctype || m.Text != tt.text || m.HTML != tt.html {
				t.Errorf("parsed subject %q, type %q\ntext %q\nhtml %q", m.Subject, m.ContentType, m.Text, m.HTML)
			}
			if !slices.Equal(m.TextLinks(), tt.textLinks) || !slices.Equal(m.HTMLLinks(), tt.htmlLinks) {
				t.Errorf("links %q and %q", m.TextLinks(), m.HTMLLinks())
			}
		})
	}
	for name, raw := range map[string]string{
		"malformed header": "Subject x\r\n\r\nbody",
		"bad encoding":     "Content-Transfer-Encoding: uuencode\r\n\r\nx",
		"bad charset":      "Content-Type: text/plain; charset=koi8-r\r\n\r\nx",
		"bad media type":   "Content-Type: ;;\r\n\r\nx",
		"broken boundary":  "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx",
	} {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
