package mfa_test

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"

	"gatehouse/internal/mfa"
)

// svgDoc is the part of the SVG the test reads.
type svgDoc struct {
	XMLName xml.Name  `xml:"http://www.w3.org/2000/svg svg"`
	ViewBox string    `xml:"viewBox,attr"`
	Width   string    `xml:"width,attr"`
	Height  string    `xml:"height,attr"`
	Role    string    `xml:"role,attr"`
	Label   string    `xml:"aria-label,attr"`
	Rects   []svgRect `xml:"rect"`
	Groups  []struct {
		Fill  string    `xml:"fill,attr"`
		Rects []svgRect `xml:"rect"`
	} `xml:"g"`
}

type svgRect struct {
	X      int    `xml:"x,attr"`
	Y      int    `xml:"y,attr"`
	Width  int    `xml:"width,attr"`
	Height int    `xml:"height,attr"`
	Fill   string `xml:"fill,attr"`
}

func TestQRCodeSVG(t *testing.T) {
	for _, content := range []string{
		"otpauth://totp/Gatehouse:ada@example.com?algorithm=SHA1&digits=6&issuer=Gatehouse&period=30&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
		"x",
		strings.Repeat("long content <&\"'> ", 40),
	} {
		t.Run(fmt.Sprintf("%d bytes", len(content)), func(t *testing.T) {
			out, err := mfa.QRCodeSVG(content)
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			if strings.Contains(s, "<script") || strings.Contains(s, "data:") || strings.Contains(s, "href") {
				t.Fatalf("SVG holds a script, data: URI or link: %.200s", s)
			}
			var doc svgDoc
			dec := xml.NewDecoder(strings.NewReader(s))
			dec.Strict = true
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("not well-formed SVG: %v\n%.300s", err, s)
			}
			// Nothing may follow the root element.
			if tok, err := dec.Token(); err == nil {
				t.Fatalf("content after </svg>: %v", tok)
			}

			want, err := qrcode.New(content, qrcode.Medium)
			if err != nil {
				t.Fatal(err)
			}
			want.DisableBorder = true
			bits := want.Bitmap()
			n := len(bits)
			if n != 17+4*want.VersionNumber {
				t.Fatalf("library gives %d modules for version %d", n, want.VersionNumber)
			}
			size := n + 8 // a quiet zone of four modules each side
			if doc.ViewBox != fmt.Sprintf("0 0 %d %d", size, size) {
				t.Fatalf("viewBox %q, want a square of %d modules", doc.ViewBox, size)
			}
			if doc.Width != doc.Height || doc.Width != strconv.Itoa(4*size) {
				t.Fatalf("size %sx%s, want %dx%d", doc.Width, doc.Height, 4*size, 4*size)
			}
			if doc.Role != "img" || doc.Label == "" {
				t.Fatalf("role %q, aria-label %q: want an image with a label", doc.Role, doc.Label)
			}
			if len(doc.Rects) != 1 || doc.Rects[0].Width != size || doc.Rects[0].Height != size || doc.Rects[0].Fill != "#fff" {
				t.Fatalf("background %+v, want one white %d-square", doc.Rects, size)
			}
			if len(doc.Groups) != 1 || doc.Groups[0].Fill != "#000" {
				t.Fatalf("want one black group of modules, got %d", len(doc.Groups))
			}

			// Paint the rects and compare module by module.
			got := make([][]bool, size)
			for i := range got {
				got[i] = make([]bool, size)
			}
			for _, r := range doc.Groups[0].Rects {
				if r.Height != 1 || r.Width < 1 || r.X < 4 || r.Y < 4 || r.X+r.Width > 4+n || r.Y >= 4+n {
					t.Fatalf("rect %+v outside the %d modules or not one row high", r, n)
				}
				for x := r.X; x < r.X+r.Width; x++ {
					if got[r.Y][x] {
						t.Fatalf("module (%d,%d) painted twice", x, r.Y)
					}
					got[r.Y][x] = true
				}
			}
			dark := 0
			for y := range size {
				for x := range size {
					inside := x >= 4 && y >= 4 && x < 4+n && y < 4+n
					want := inside && bits[y-4][x-4]
					if got[y][x] != want {
						t.Fatalf("module (%d,%d) is %v, want %v", x, y, got[y][x], want)
					}
					if want {
						dark++
					}
				}
			}
			// The three finder patterns alone are 3×33 dark modules.
			if dark < 99 {
				t.Fatalf("only %d dark modules", dark)
			}
		})
	}
}

func TestQRCodeSVGTooLong(t *testing.T) {
	if _, err := mfa.QRCodeSVG(strings.Repeat("x", 5000)); err == nil {
		t.Fatal("no error for content beyond the largest QR code")
	}
}
