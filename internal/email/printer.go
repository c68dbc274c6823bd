package email

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Printer is the mail sink of `gatehouse demo`: instead of delivering a
// message it prints its recipient, subject and links to a terminal, so a
// newcomer can follow a verification or reset link at once.
type Printer struct {
	mu sync.Mutex // guards w: messages are printed whole, one at a time
	w  io.Writer
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w} }

// Send prints m.
func (p *Printer) Send(ctx context.Context, m Message) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  Email to %s: %s\n", m.To, m.Subject)
	for _, l := range Links(m.Text) {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, b.String()); err != nil {
		return fmt.Errorf("print %s email: %w", m.Kind, err)
	}
	return nil
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links returns the http(s) links of a plain-text body, in order.
func Links(text string) []string {
	return linkPattern.FindAllString(text, -1)
}
