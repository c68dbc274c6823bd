package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// logID is a test event's ID: time-prefixed like audit's, so that IDs sort
// by date, with n to tell events of the same millisecond apart.
func logID(at time.Time, n int) string {
	return fmt.Sprintf("%016d%016x", at.UnixMicro(), n)
}

func newLogEvent(at time.Time, n int, typ, userID, clientID string) store.LogEvent {
	return store.LogEvent{
		ID:          logID(at, n),
		Date:        at.In(elsewhere),
		Type:        typ,
		Description: "event " + fmt.Sprint(n),
		IP:          "192.0.2.7",
		UserAgent:   "Mozilla/5.0",
		ClientID:    clientID,
		ClientName:  "App " + clientID,
		UserID:      userID,
		UserName:    "ada@example.com",
	}
}

// testLogs runs the audit-log tests on one store, each starting from an
// empty log (the Seq numbers go on from the test before).
func testLogs(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"AppendGet", testLogAppendGet},
		{"List", testLogList},
		{"ReadCheckpoint", testLogRead},
		{"Retention", testLogRetention},
		{"Streams", testLogStreams},
		{"ConcurrentAppend", testLogConcurrentAppend},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.DeleteLogsBefore(t.Context(), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
			must(t, err, "empty the log")
			tc.run(t, s)
		})
	}
}

// testLogAppendGet stores events with every field and reads them back; an
// event appended again is not stored twice.
func testLogAppendGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := store.LogEvent{
		ID: logID(t0, 1), Date: t0.In(elsewhere), Type: "sapi", Description: "Create a client",
		IP: "2001:db8::1", UserAgent: "curl/8", ClientID: "m2m", ClientName: "Back office",
		UserID: "gatehouse|ada", UserName: "ada@example.com", Connection: store.DefaultDatabaseConnection,
		ConnectionID: "con_1", Strategy: "auth0", OrganizationID: "org_1", OrganizationName: "acme",
		Audience: "https://api.example.com", Scope: "read:users",
		Details: map[string]any{"request": map[string]any{"method": "POST", "path": "/api/v2/clients"}, "status": float64(201)},
	}
	bare := store.LogEvent{ID: logID(t0, 2), Date: t0.Add(time.Millisecond), Type: "fu"}
	must(t, s.AppendLogs(ctx, []store.LogEvent{full, bare}), "append")
	must(t, s.AppendLogs(ctx, nil), "append nothing")

	got, err := s.GetLog(ctx, full.ID)
	must(t, err, "get full")
	if got.Seq <= 0 {
		t.Fatalf("get full: Seq = %d, want > 0", got.Seq)
	}
	want := full
	want.Date, want.Seq = t0, got.Seq
	wantEqual(t, got, want, "get full")
	gotBare, err := s.GetLog(ctx, bare.ID)
	must(t, err, "get bare")
	if gotBare.Seq <= got.Seq {
		t.Fatalf("seq of the second event %d, not after the first's %d", gotBare.Seq, got.Seq)
	}
	bare.Seq = gotBare.Seq
	wantEqual(t, gotBare, bare, "get bare")

	_, err = s.GetLog(ctx, logID(t0, 3))
	wantErr(t, err, store.ErrNotFound, "get unknown")

	// A retried batch: the stored event stays as it was, the new one goes
	// in after everything stored before.
	changed := full
	changed.Description = "changed"
	third := newLogEvent(t0.Add(2*time.Millisecond), 3, "s", "gatehouse|ada", "app")
	must(t, s.AppendLogs(ctx, []store.LogEvent{changed, third}), "append again")
	got, err = s.GetLog(ctx, full.ID)
	must(t, err, "get full again")
	wantEqual(t, got, want, "an event appended twice is kept as first stored")
	n, err := s.CountLogs(ctx, store.LogFilter{})
	must(t, err, "count")
	if n != 3 {
		t.Fatalf("count = %d, want 3", n)
	}
	all, err := s.ReadLogs(ctx, 0, 10)
	must(t, err, "read")
	if ids := logIDs(all); !slices.Equal(ids, []string{full.ID, bare.ID, third.ID}) {
		t.Fatalf("read = %v, want the three events in commit order", ids)
	}
}

func logIDs(events []store.LogEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// testLogList checks every filter, the order and the paging of ListLogs,
// and that CountLogs agrees.
func testLogList(t *testing.T, s store.Store) {
	ctx := t.Context()
	var events []store.LogEvent
	add := func(e store.LogEvent) string {
		events = append(events, e)
		return e.ID
	}
	// Dates one minute apart; the last two share a millisecond.
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	e0 := add(newLogEvent(at(0), 0, "s", "gatehouse|ada", "app1"))
	e1 := add(newLogEvent(at(1), 1, "fp", "gatehouse|ada", "app1"))
	e2 := add(newLogEvent(at(2), 2, "fu", "", "app2"))
	ev3 := newLogEvent(at(3), 3, "sapi", "", "m2m")
	ev3.Connection, ev3.OrganizationID = "github", "org_1"
	e3 := add(ev3)
	e4 := add(newLogEvent(at(4), 4, "s", "gatehouse|bob", "app2"))
	e5 := add(newLogEvent(at(4), 5, "seacft", "gatehouse|bob", "app2"))
	// Appended out of date order: the list orders by date anyway.
	slices.Reverse(events)
	must(t, s.AppendLogs(ctx, events), "append")

	for _, tc := range []struct {
		name string
		f    store.LogFilter
		want []string
	}{
		{"all newest first", store.LogFilter{}, []string{e5, e4, e3, e2, e1, e0}},
		{"all oldest first", store.LogFilter{Ascending: true}, []string{e0, e1, e2, e3, e4, e5}},
		{"types", store.LogFilter{Types: []string{"s", "fu"}}, []string{e4, e2, e0}},
		{"one type", store.LogFilter{Types: []string{"fp"}}, []string{e1}},
		{"unknown type", store.LogFilter{Types: []string{"nope"}}, nil},
		{"user", store.LogFilter{UserID: "gatehouse|ada"}, []string{e1, e0}},
		{"client", store.LogFilter{ClientID: "app2"}, []string{e5, e4, e2}},
		{"user and client", store.LogFilter{UserID: "gatehouse|bob", ClientID: "app2", Types: []string{"s"}}, []string{e4}},
		{"connection", store.LogFilter{Connection: "github"}, []string{e3}},
		{"organization", store.LogFilter{OrganizationID: "org_1"}, []string{e3}},
		{"since includes", store.LogFilter{Since: at(3)}, []string{e5, e4, e3}},
		{"until excludes", store.LogFilter{Until: at(1)}, []string{e0}},
		{"range", store.LogFilter{Since: at(1), Until: at(4).In(elsewhere)}, []string{e3, e2, e1}},
		{"empty range", store.LogFilter{Since: at(4), Until: at(4)}, nil},
		{"first page", store.LogFilter{Limit: 2}, []string{e5, e4}},
		{"second page", store.LogFilter{Limit: 2, Offset: 2}, []string{e3, e2}},
		{"last page", store.LogFilter{Limit: 4, Offset: 4}, []string{e1, e0}},
		{"past the end", store.LogFilter{Limit: 2, Offset: 6}, nil},
		{"offset without limit", store.LogFilter{Offset: 5, Ascending: true}, []string{e5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListLogs(ctx, tc.f)
			must(t, err, "list")
			wantEqual(t, logIDs(got), tc.want, "list")
			n, err := s.CountLogs(ctx, tc.f)
			must(t, err, "count")
			f := tc.f
			f.Limit, f.Offset = 0, 0
			all, err := s.ListLogs(ctx, f)
			must(t, err, "list unpaged")
			if n != len(all) {
				t.Fatalf("count = %d, want %d (paging ignored)", n, len(all))
			}
		})
	}
}

// testLogRead checks that ReadLogs follows commit order, not dates, and
// the checkpoints of known, removed and unknown IDs.
func testLogRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	late := newLogEvent(t0.Add(time.Hour), 0, "s", "u", "c")
	early := newLogEvent(t0, 1, "s", "u", "c") // written after late: a replica's buffer flushed late
	middle := newLogEvent(t0.Add(30*time.Minute), 2, "s", "u", "c")
	must(t, s.AppendLogs(ctx, []store.LogEvent{late}), "append late")
	must(t, s.AppendLogs(ctx, []store.LogEvent{early}), "append early")
	must(t, s.AppendLogs(ctx, []store.LogEvent{middle}), "append middle")

	all, err := s.ReadLogs(ctx, 0, 100)
	must(t, err, "read all")
	wantEqual(t, logIDs(all), []string{late.ID, early.ID, middle.ID}, "read in commit order")
	page, err := s.ReadLogs(ctx, 0, 2)
	must(t, err, "read two")
	wantEqual(t, logIDs(page), []string{late.ID, early.ID}, "read two")
	rest, err := s.ReadLogs(ctx, page[1].Seq, 2)
	must(t, err, "read the rest")
	wantEqual(t, logIDs(rest), []string{middle.ID}, "read after the second")
	none, err := s.ReadLogs(ctx, all[2].Seq, 10)
	must(t, err, "read past the end")
	wantEqual(t, logIDs(none), nil, "read past the end")

	for _, tc := range []struct {
		name string
		id   string
		want int64
	}{
		{"known", late.ID, all[0].Seq},
		{"known, written later with an earlier id", early.ID, all[1].Seq},
		// An ID between early's and middle's that no event has: the
		// last commit among the IDs before it is early's.
		{"unknown between", logID(t0.Add(time.Minute), 9), all[1].Seq},
		{"unknown after every id", logID(t0.Add(2*time.Hour), 9), all[2].Seq},
		{"unknown before every id", logID(t0.Add(-time.Hour), 9), 0},
	} {
		got, err := s.LogCheckpoint(ctx, tc.id)
		must(t, err, "checkpoint "+tc.name)
		if got != tc.want {
			t.Errorf("checkpoint %s = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// testLogRetention checks DeleteLogsBefore: strictly before, counted, and
// the sequence goes on after every event went.
func testLogRetention(t *testing.T, s store.Store) {
	ctx := t.Context()
	var events []store.LogEvent
	for i := range 5 {
		events = append(events, newLogEvent(t0.Add(time.Duration(i)*time.Hour), i, "s", "u", "c"))
	}
	must(t, s.AppendLogs(ctx, events), "append")
	all, err := s.ReadLogs(ctx, 0, 10)
	must(t, err, "read")
	n, err := s.DeleteLogsBefore(ctx, t0.Add(2*time.Hour))
	must(t, err, "delete")
	if n != 2 {
		t.Fatalf("deleted %d, want 2", n)
	}
	left, err := s.ListLogs(ctx, store.LogFilter{Ascending: true})
	must(t, err, "list")
	wantEqual(t, logIDs(left), logIDs(events[2:]), "left after retention")
	_, err = s.GetLog(ctx, events[0].ID)
	wantErr(t, err, store.ErrNotFound, "get deleted")
	// A removed checkpoint continues after the events before it.
	cp, err := s.LogCheckpoint(ctx, events[1].ID)
	must(t, err, "checkpoint of a removed event")
	if cp != 0 {
		t.Fatalf("checkpoint of a removed event = %d, want 0", cp)
	}

	n, err = s.DeleteLogsBefore(ctx, t0.Add(24*time.Hour))
	must(t, err, "delete all")
	if n != 3 {
		t.Fatalf("deleted %d, want 3", n)
	}
	next := newLogEvent(t0.Add(25*time.Hour), 9, "s", "u", "c")
	must(t, s.AppendLogs(ctx, []store.LogEvent{next}), "append after emptying")
	got, err := s.ReadLogs(ctx, all[len(all)-1].Seq, 10)
	must(t, err, "read after the last deleted seq")
	wantEqual(t, logIDs(got), []string{next.ID}, "a seq is never handed out twice")
}

// testLogStreams checks the lease and the compare-and-set cursor of a
// stream.
func testLogStreams(t *testing.T, s store.Store) {
	ctx := t.Context()
	const lease = time.Minute
	st, err := s.ClaimLogStream(ctx, "webhook", "a", t0, lease)
	must(t, err, "a claims a new stream")
	wantEqual(t, st, store.LogStream{Name: "webhook", Cursor: 0, Owner: "a", LeaseUntil: t0.Add(lease)}, "new stream")

	_, err = s.ClaimLogStream(ctx, "webhook", "b", t0.Add(lease-time.Second), lease)
	wantErr(t, err, store.ErrConflict, "b claims while a's lease runs")
	st, err = s.ClaimLogStream(ctx, "other", "b", t0, lease)
	must(t, err, "b claims another stream")
	if st.Owner != "b" {
		t.Fatalf("other stream owner %q", st.Owner)
	}

	must(t, s.AdvanceLogStream(ctx, "webhook", "a", 0, 7, t0.Add(time.Second), lease), "a advances")
	st, err = s.ClaimLogStream(ctx, "webhook", "a", t0.Add(2*time.Second), lease)
	must(t, err, "a renews")
	wantEqual(t, st, store.LogStream{Name: "webhook", Cursor: 7, Owner: "a", LeaseUntil: t0.Add(2*time.Second + lease)}, "renewed")

	err = s.AdvanceLogStream(ctx, "webhook", "a", 0, 9, t0.Add(3*time.Second), lease)
	wantErr(t, err, store.ErrConflict, "advance from a stale cursor")
	err = s.AdvanceLogStream(ctx, "webhook", "b", 7, 9, t0.Add(3*time.Second), lease)
	wantErr(t, err, store.ErrConflict, "advance by a process without the lease")
	err = s.AdvanceLogStream(ctx, "nope", "a", 0, 1, t0, lease)
	wantErr(t, err, store.ErrConflict, "advance an unknown stream")

	// The lease runs out: b takes over, and a can no longer advance.
	st, err = s.ClaimLogStream(ctx, "webhook", "b", t0.Add(2*time.Second+lease), lease)
	must(t, err, "b takes over an expired lease")
	if st.Owner != "b" || st.Cursor != 7 {
		t.Fatalf("taken over: %+v", st)
	}
	err = s.AdvanceLogStream(ctx, "webhook", "a", 7, 9, t0.Add(3*time.Second+lease), lease)
	wantErr(t, err, store.ErrConflict, "advance after losing the lease")

	// Released: a takes it back at once, cursor kept.
	must(t, s.ReleaseLogStream(ctx, "webhook", "a"), "a releases what it does not hold")
	_, err = s.ClaimLogStream(ctx, "webhook", "a", t0.Add(4*time.Second+lease), lease)
	wantErr(t, err, store.ErrConflict, "a's release did not end b's lease")
	must(t, s.ReleaseLogStream(ctx, "webhook", "b"), "b releases")
	must(t, s.ReleaseLogStream(ctx, "nope", "b"), "release an unknown stream")
	st, err = s.ClaimLogStream(ctx, "webhook", "a", t0.Add(4*time.Second+lease), lease)
	must(t, err, "a claims a released stream")
	if st.Owner != "a" || st.Cursor != 7 {
		t.Fatalf("claimed after release: %+v", st)
	}
}

// testLogConcurrentAppend appends batches from many goroutines while a
// reader follows the log by Seq, as the webhook stream does: it must see
// every event, each once, although batches commit in any order.
func testLogConcurrentAppend(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, batches, size = 6, 15, 4
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var batch []store.LogEvent
				for i := range size {
					n := (w*batches+b)*size + i
					batch = append(batch, newLogEvent(t0.Add(time.Duration(n)*time.Millisecond), n, "s", "u", "c"))
				}
				if err := s.AppendLogs(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	var cursor int64
	follow := func() {
		for {
			events, err := s.ReadLogs(ctx, cursor, 7)
			must(t, err, "follow")
			if len(events) == 0 {
				return
			}
			for _, e := range events {
				if e.Seq <= cursor {
					t.Fatalf("seq %d after cursor %d", e.Seq, cursor)
				}
				cursor = e.Seq
				seen[e.ID]++
			}
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		follow()
	}
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	follow()
	if len(seen) != writers*batches*size {
		t.Fatalf("the reader saw %d events, want %d: it skipped some", len(seen), writers*batches*size)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s seen %d times", id, n)
		}
	}
}
