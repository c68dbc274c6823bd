package mfa

import (
	"fmt"
	"html/template"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrQuietZone is the blank border around a QR code, in modules (ISO/IEC
// 18004 §6.3.8 asks for four).
const qrQuietZone = 4

// qrModulePixels is the default size of one module in CSS pixels; a page
// may scale the image with CSS, and it stays sharp.
const qrModulePixels = 4

// QRCodeSVG draws content as a QR code (error correction level M) in an
// inline SVG element: one black rect per run of dark modules in a row, on
// a white square with a quiet zone. It needs no script and no data: URI,
// so it passes a strict Content-Security-Policy, and it prints.
func QRCodeSVG(content string) (template.HTML, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	q.DisableBorder = true
	bits := q.Bitmap()
	n := len(bits)
	size := n + 2*qrQuietZone
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" `+
		`shape-rendering="crispEdges" role="img" aria-label="QR code">`,
		size, size, size*qrModulePixels, size*qrModulePixels)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, size, size)
	b.WriteString(`<g fill="#000">`)
	for y, row := range bits {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < n && row[x] {
				x++
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="1"/>`, start+qrQuietZone, y+qrQuietZone, x-start)
		}
	}
	b.WriteString(`</g></svg>`)
	// Only numbers and fixed markup were written: nothing of content.
	return template.HTML(b.String()), nil
}
