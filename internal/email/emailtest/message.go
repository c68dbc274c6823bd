package emailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"

	"gatehouse/internal/email"
)

// Message is one message the server received, parsed.
type Message struct {
	EnvelopeFrom string   // MAIL FROM
	EnvelopeTo   []string // RCPT TO
	AuthUser     string   // the AUTH PLAIN user, if any
	TLS          bool     // received over TLS (STARTTLS or implicit)

	Raw         []byte
	Header      mail.Header
	Subject     string // decoded
	ContentType string // of the whole message, e.g. multipart/alternative
	Text        string // the decoded text/plain part
	HTML        string // the decoded text/html part
}

// Parse reads a message as a mail program would: headers (RFC 2047
// encoded words decoded), and the text/plain and text/html parts of a
// multipart body, each decoded from quoted-printable or base64.
func Parse(raw []byte) (*Message, error) {
	mm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	m := &Message{Raw: raw, Header: mm.Header}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(mm.Header.Get("Subject")); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	ct := mm.Header.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	m.ContentType, _, _ = mime.ParseMediaType(ct)
	if err := m.walk(ct, mm.Header.Get("Content-Transfer-Encoding"), mm.Body); err != nil {
		return nil, err
	}
	return m, nil
}

// walk collects the text parts of a (possibly nested) MIME body.
func (m *Message) walk(contentType, encoding string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart() // raw: we decode quoted-printable ourselves, as for a single part
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			pct := p.Header.Get("Content-Type")
			if pct == "" {
				pct = "text/plain"
			}
			if err := m.walk(pct, p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "", "7bit", "8bit", "binary":
		r = body
	default:
		return fmt.Errorf("unknown transfer encoding %q", encoding)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("decode %s part: %w", mediaType, err)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return fmt.Errorf("%s part has charset %q, want UTF-8", mediaType, cs)
	}
	switch mediaType {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}

// newlineStripper drops CR and LF, which base64 bodies wrap with.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	j := 0
	for _, c := range p[:k] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// TextLinks are the http(s) links of the text part, in order.
func (m *Message) TextLinks() []string { return email.Links(m.Text) }

var href = regexp.MustCompile(`(?i)\shref="([^"]*)"`)

// HTMLLinks are the href targets of the HTML part's links (entities
// decoded), in order.
func (m *Message) HTMLLinks() []string {
	var out []string
	for _, sm := range href.FindAllStringSubmatch(m.HTML, -1) {
		out = append(out, html.UnescapeString(sm[1]))
	}
	return out
}
