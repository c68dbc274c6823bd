package audit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gatehouse/internal/store"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		q    string
		want store.LogFilter
	}{
		{"empty", "", store.LogFilter{}},
		{"spaces", "   ", store.LogFilter{}},
		{"type", "type:s", store.LogFilter{Types: []string{"s"}}},
		{"types", "type:(s OR fp OR fu)", store.LogFilter{Types: []string{"s", "fp", "fu"}}},
		{"types spaced", "type:( s OR fp )", store.LogFilter{Types: []string{"s", "fp"}}},
		{"quoted user", `user_id:"gatehouse|abc"`, store.LogFilter{UserID: "gatehouse|abc"}},
		{"bare user", `user_id:github|42`, store.LogFilter{UserID: "github|42"}},
		{"escaped quote", `client_id:"a\"b"`, store.LogFilter{ClientID: `a"b`}},
		{"and", `type:sapi AND client_id:"m2m" AND connection:github AND organization_id:org_1`,
			store.LogFilter{Types: []string{"sapi"}, ClientID: "m2m", Connection: "github", OrganizationID: "org_1"}},
		{"date range inclusive", "date:[2026-01-01 TO 2026-02-01]",
			store.LogFilter{Since: day(2026, 1, 1), Until: day(2026, 2, 2)}},
		{"date range exclusive", "date:{2026-01-01 TO 2026-02-01}",
			store.LogFilter{Since: day(2026, 1, 2), Until: day(2026, 2, 1)}},
		{"date range open", "date:[2026-01-01 TO *]", store.LogFilter{Since: day(2026, 1, 1)}},
		{"date range open below", "date:[* TO 2026-01-01}", store.LogFilter{Until: day(2026, 1, 1)}},
		{"date range times", "date:[2026-01-01T10:00:00Z TO 2026-01-01T12:00:00+01:00]",
			store.LogFilter{Since: day(2026, 1, 1).Add(10 * time.Hour), Until: day(2026, 1, 1).Add(11*time.Hour + time.Millisecond)}},
		{"one day", "date:2026-03-04", store.LogFilter{Since: day(2026, 3, 4), Until: day(2026, 3, 5)}},
		{"date and user", `date:[2026-01-01 TO 2026-01-31] AND user_id:"u"`,
			store.LogFilter{Since: day(2026, 1, 1), Until: day(2026, 2, 1), UserID: "u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseQuery(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	for _, tc := range []struct {
		name, q, says string
	}{
		{"no field", "hello", "field:value"},
		{"unknown field", "email:a@b.c", "cannot be searched"},
		{"or between terms", "type:s OR type:f", "joined by AND"},
		{"no operator", "type:s user_id:u", "joined by AND"},
		{"lower-case and", "type:s and user_id:u", "joined by AND"},
		{"repeated field", "type:s AND type:f", "appears twice"},
		{"unclosed quote", `user_id:"abc`, "not closed"},
		{"empty value", "user_id:", "expected a value"},
		{"unclosed range", "date:[2026-01-01 TO 2026-02-01", "not closed"},
		{"range without TO", "date:[2026-01-01 2026-02-01]", "[FROM TO UNTIL]"},
		{"bad date", "date:[yesterday TO *]", "not a date"},
		{"time as a day", "date:2026-01-01T00:00:00Z", "must be a day"},
		{"unclosed types", "type:(s OR f", "not closed"},
		{"empty types", "type:()", "expected a type"},
		{"types without or", "type:(s f)", "joined by OR"},
		{"trailing and", "type:s AND", "field:value"},
		{"too long", strings.Repeat("a", maxQuery+1), "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseQuery(tc.q)
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("err = %v, want a *QueryError", err)
			}
			if !strings.Contains(qe.Message, tc.says) {
				t.Fatalf("message %q does not say %q", qe.Message, tc.says)
			}
		})
	}
}
