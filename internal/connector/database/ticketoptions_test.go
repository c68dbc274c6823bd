package database

import (
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

func TestIssueTicketWith(t *testing.T) {
	e := newAccountEnv(t)
	ctx := t.Context()
	u := e.signUp(t, "ada@example.com", "analytical engine")
	opts := TicketOptions{ClientID: "client-1", ResultURL: "https://app.example/done", KeepEmailUnverified: true}
	tok, err := IssueTicketWith(ctx, e.st, store.TicketPasswordReset, u, time.Hour, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.st.GetTicket(ctx, token.Hash(tok), store.TicketPasswordReset, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientID != opts.ClientID || got.RequestID != "" || got.ResultURL != opts.ResultURL || !got.KeepEmailUnverified {
		t.Errorf("stored ticket %+v, want the options %+v", got, opts)
	}
	for _, ttl := range []time.Duration{0, -time.Second, 31 * 24 * time.Hour} {
		if _, err := IssueTicketWith(ctx, e.st, store.TicketPasswordReset, u, ttl, opts); err == nil {
			t.Errorf("lifetime %s accepted", ttl)
		}
	}
	if _, err := IssueTicketWith(ctx, e.st, "magic_link", u, time.Hour, opts); err == nil {
		t.Error("unknown kind accepted")
	}
}
