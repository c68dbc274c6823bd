package login

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"gatehouse/internal/email"
	"gatehouse/internal/store"
)

// mailHealthWindow is how long after a failed send, with none succeeding
// since, the pages that send mail say that email cannot be sent.
const mailHealthWindow = 5 * time.Minute

// mailer sends the account emails for the hosted pages.
//
// Emails whose page must not reveal whether an account exists (a reset
// link, a sign-up with an address that has an account) are sent in the
// background: the page answers at once and the same way for every
// address, so neither its words nor its timing tell. The health of those
// sends is kept instead: while the last one failed and none succeeded
// since, those pages say that email cannot be sent right now — to every
// visitor alike. Emails to a user who is logged in (resend the
// verification) are sent while the page waits, and a failure is shown.
type mailer struct {
	sender email.Sender // nil when the server has no email settings
	log    *slog.Logger
	now    func() time.Time
	slots  chan struct{} // bounds the background sends in flight

	mu       sync.Mutex // guards failedAt
	failedAt time.Time  // zero after a success
}

// maxBackgroundSends bounds the sends in flight; past it a send is
// dropped rather than queued without bound, and the pages say that email
// cannot be sent until one finishes.
const maxBackgroundSends = 32

func newMailer(sender email.Sender, log *slog.Logger, now func() time.Time) *mailer {
	return &mailer{sender: sender, log: log, now: now, slots: make(chan struct{}, maxBackgroundSends)}
}

// enabled reports whether the server can send email at all.
func (m *mailer) enabled() bool { return m.sender != nil }

// healthy reports whether the background sends work, as far as is known,
// and whether there is room for one more. A full backlog is not recorded
// as a failure: it clears as soon as a send finishes, whereas a recorded
// failure would keep the pages from sending (and so from ever succeeding)
// for mailHealthWindow, for every visitor.
func (m *mailer) healthy() bool {
	if len(m.slots) == cap(m.slots) {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failedAt.IsZero() || m.now().Sub(m.failedAt) > mailHealthWindow
}

func (m *mailer) record(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.failedAt = m.now()
	} else {
		m.failedAt = time.Time{}
	}
}

// send delivers msg while the caller waits (the sender bounds the wait).
func (m *mailer) send(ctx context.Context, msg email.Message) error {
	err := m.sender.Send(ctx, msg)
	m.record(err)
	if err != nil {
		m.log.Warn("send email", "kind", msg.Kind, "err", err)
	}
	return err
}

// sendLater delivers msg in the background; build runs there too, so the
// work an existing account costs (a stored ticket) does not show in the
// page's timing either.
func (m *mailer) sendLater(kind string, build func(ctx context.Context) (email.Message, error)) {
	if m.sender == nil {
		// No email settings: nothing is sent. A page reached without mail
		// (a reset link from the command line or the management API)
		// still notifies where it can.
		return
	}
	select {
	case m.slots <- struct{}{}:
	default:
		m.log.Warn("send email: too many sends in flight, dropped", "kind", kind)
		return
	}
	go func() {
		defer func() { <-m.slots }()
		// The request that asked is over; the sender bounds the time.
		ctx := context.Background()
		msg, err := build(ctx)
		if err != nil {
			if err != errNothingToSend {
				m.log.Error("build email", "kind", kind, "err", err)
			}
			return
		}
		_ = m.send(ctx, msg)
	}()
}

type mailError string

func (e mailError) Error() string { return string(e) }

const (
	// errNothingToSend ends a background send quietly (no such account).
	errNothingToSend = mailError("nothing to send")
)

// branding is how the emails of a request present themselves.
func (p *Pages) branding(ctx context.Context, client store.Client, orgID string) email.Branding {
	b := email.Branding{AppName: client.Name}
	if orgID == "" {
		return b
	}
	org, err := p.cfg.Store.GetOrganization(ctx, orgID)
	if err != nil {
		return b
	}
	b.OrgName, b.LogoURL, b.PrimaryColor = org.DisplayName, org.LogoURL, org.PrimaryColor
	if b.OrgName == "" {
		b.OrgName = org.Name
	}
	return b
}
