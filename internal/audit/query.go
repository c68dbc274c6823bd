package audit

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/store"
)

// QueryError is a q the log search cannot read; its message says why, for
// the caller.
type QueryError struct{ Message string }

func (e *QueryError) Error() string { return e.Message }

func queryErr(format string, args ...any) error {
	return &QueryError{Message: fmt.Sprintf(format, args...)}
}

// maxQuery bounds the length of q.
const maxQuery = 1024

// ParseQuery reads the management API's log search, a subset of the
// Lucene query syntax the hosted service takes: terms joined by AND, each
// field:value, with the value bare or in double quotes. Fields:
//
//	type:s                    one event type; type:(s OR fp) any of several
//	user_id:"gatehouse|abc"   client_id:…   connection:…   organization_id:…
//	date:[2026-01-01 TO 2026-02-01]   both days included; "{" and "}"
//	                          exclude an end, "*" leaves it open, and an
//	                          end may be an RFC 3339 time
//	date:2026-01-01           that day
//
// A field may appear once. The empty query selects everything.
func ParseQuery(q string) (store.LogFilter, error) {
	var f store.LogFilter
	if len(q) > maxQuery {
		return f, queryErr("q is longer than %d characters", maxQuery)
	}
	p := &queryParser{s: strings.TrimSpace(q)}
	seen := map[string]bool{}
	for i := 0; ; i++ {
		if p.skipSpace(); p.s == "" {
			break
		}
		if i > 0 {
			if !p.word("AND") {
				return f, queryErr("q: terms must be joined by AND (OR and NOT are not supported between terms), at %q", p.rest())
			}
		}
		field, ok := p.field()
		if !ok {
			return f, queryErr("q: expected field:value, at %q", p.rest())
		}
		if seen[field] {
			return f, queryErr("q: the field %s appears twice", field)
		}
		seen[field] = true
		var err error
		switch field {
		case "type":
			f.Types, err = p.types()
		case "user_id":
			f.UserID, err = p.value()
		case "client_id":
			f.ClientID, err = p.value()
		case "connection":
			f.Connection, err = p.value()
		case "organization_id":
			f.OrganizationID, err = p.value()
		case "date":
			f.Since, f.Until, err = p.dates()
		default:
			return f, queryErr("q: the field %s cannot be searched; use type, user_id, client_id, connection, organization_id or date", field)
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// queryParser consumes q from the front.
type queryParser struct{ s string }

func (p *queryParser) skipSpace() { p.s = strings.TrimLeftFunc(p.s, unicode.IsSpace) }

func (p *queryParser) rest() string {
	if len(p.s) > 40 {
		return p.s[:40] + "…"
	}
	return p.s
}

// word consumes w when it is the next word.
func (p *queryParser) word(w string) bool {
	p.skipSpace()
	if !strings.HasPrefix(p.s, w) {
		return false
	}
	after := p.s[len(w):]
	if after != "" && !unicode.IsSpace(rune(after[0])) {
		return false
	}
	p.s = after
	p.skipSpace()
	return true
}

// field consumes "name:".
func (p *queryParser) field() (string, bool) {
	p.skipSpace()
	name, rest, ok := strings.Cut(p.s, ":")
	if !ok || name == "" || strings.ContainsFunc(name, func(r rune) bool { return !(r == '_' || unicode.IsLetter(r)) }) {
		return "", false
	}
	p.s = rest
	return name, true
}

// value consumes a quoted or bare value.
func (p *queryParser) value() (string, error) {
	if strings.HasPrefix(p.s, `"`) {
		var b strings.Builder
		for i := 1; i < len(p.s); i++ {
			switch c := p.s[i]; c {
			case '\\':
				if i+1 < len(p.s) {
					i++
					b.WriteByte(p.s[i])
				}
			case '"':
				p.s = p.s[i+1:]
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", queryErr("q: a quoted value is not closed")
	}
	end := strings.IndexFunc(p.s, unicode.IsSpace)
	if end < 0 {
		end = len(p.s)
	}
	v := p.s[:end]
	if v == "" || strings.ContainsAny(v, `()[]{}"`) {
		return "", queryErr("q: expected a value, at %q", p.rest())
	}
	p.s = p.s[end:]
	return v, nil
}

// types consumes one type or a parenthesized list joined by OR.
func (p *queryParser) types() ([]string, error) {
	if !strings.HasPrefix(p.s, "(") {
		v, err := p.value()
		return []string{v}, err
	}
	p.s = p.s[1:]
	var types []string
	for {
		p.skipSpace()
		if len(types) > 0 {
			if strings.HasPrefix(p.s, ")") {
				p.s = p.s[1:]
				return types, nil
			}
			if !p.word("OR") {
				return nil, queryErr("q: types in parentheses are joined by OR, at %q", p.rest())
			}
		}
		end := strings.IndexFunc(p.s, func(r rune) bool { return unicode.IsSpace(r) || r == ')' })
		if end < 0 {
			return nil, queryErr("q: a list of types is not closed")
		}
		if end == 0 {
			return nil, queryErr("q: expected a type, at %q", p.rest())
		}
		types = append(types, p.s[:end])
		p.s = p.s[end:]
		if len(types) > 50 {
			return nil, queryErr("q: too many types")
		}
	}
}

// dates consumes a date or a range and returns the bounds as LogFilter
// takes them: since included, until excluded.
func (p *queryParser) dates() (since, until time.Time, err error) {
	if !strings.HasPrefix(p.s, "[") && !strings.HasPrefix(p.s, "{") {
		v, err := p.value()
		if err != nil {
			return since, until, err
		}
		t, day, err := parseDate(v)
		if err != nil {
			return since, until, err
		}
		if !day {
			return since, until, queryErr("q: date:%s must be a day (2026-01-31) or a range", v)
		}
		return t, t.AddDate(0, 0, 1), nil
	}
	openIncl := p.s[0] == '['
	closeAt := strings.IndexAny(p.s, "]}")
	if closeAt < 0 {
		return since, until, queryErr("q: a date range is not closed")
	}
	closeIncl := p.s[closeAt] == ']'
	lo, hi, ok := strings.Cut(p.s[1:closeAt], " TO ")
	if !ok {
		return since, until, queryErr("q: a date range is [FROM TO UNTIL]")
	}
	p.s = p.s[closeAt+1:]
	if lo = strings.TrimSpace(lo); lo != "*" {
		t, day, err := parseDate(lo)
		if err != nil {
			return since, until, err
		}
		since = t
		if !openIncl {
			since = t.Add(step(day))
		}
	}
	if hi = strings.TrimSpace(hi); hi != "*" {
		t, day, err := parseDate(hi)
		if err != nil {
			return since, until, err
		}
		until = t
		if closeIncl {
			until = t.Add(step(day))
		}
	}
	return since, until, nil
}

// step is the smallest interval of a date's precision: a whole day, or
// the store's millisecond.
func step(day bool) time.Duration {
	if day {
		return 24 * time.Hour
	}
	return time.Millisecond
}

// parseDate reads a day (2026-01-31, UTC) or an RFC 3339 time.
func parseDate(s string) (t time.Time, day bool, err error) {
	s = strings.Trim(s, `"`)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), false, nil
	}
	return t, false, queryErr("q: %q is not a date (2026-01-31) or an RFC 3339 time", s)
}
