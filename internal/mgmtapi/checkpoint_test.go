package mgmtapi_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestClientGrantsCheckpoint reads the client grants with from and take,
// as the current Auth0 SDK does (include_totals=true&take=50), page after
// page, and checks the refusals.
func TestClientGrantsCheckpoint(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for range 3 {
		var c clientOut
		e.call(t, "POST", "/api/v2/clients", map[string]any{"name": "Backend", "app_type": "non_interactive"}, 201, &c)
		var g struct {
			ID string `json:"id"`
		}
		e.call(t, "POST", "/api/v2/client-grants", map[string]any{"client_id": c.ClientID,
			"audience": e.issuer + "/api/v2/", "scope": []string{"read:users"}}, 201, &g)
		ids = append(ids, g.ID)
	}
	type answer struct {
		ClientGrants []struct {
			ID string `json:"id"`
		} `json:"client_grants"`
		Next *string `json:"next"`
		// Absent in a checkpoint answer.
		Total *int `json:"total"`
	}

	// Walk the list two at a time.
	var seen []string
	var a answer
	e.call(t, "GET", "/api/v2/client-grants?include_totals=true&take=2", nil, 200, &a)
	for _, g := range a.ClientGrants {
		seen = append(seen, g.ID)
	}
	if len(a.ClientGrants) != 2 || a.Next == nil || a.Total != nil {
		t.Fatalf("first page: %+v", a)
	}
	next := *a.Next
	a = answer{}
	e.call(t, "GET", "/api/v2/client-grants?take=2&from="+url.QueryEscape(next), nil, 200, &a)
	for _, g := range a.ClientGrants {
		seen = append(seen, g.ID)
	}
	if len(a.ClientGrants) != 1 || a.Next != nil {
		t.Fatalf("last page: %+v", a)
	}
	slices.Sort(seen)
	slices.Sort(ids)
	if !slices.Equal(seen, ids) {
		t.Errorf("walking the list saw %v, want %v", seen, ids)
	}

	// from alone takes the default 50; a filter that matches nothing.
	a = answer{}
	e.call(t, "GET", "/api/v2/client-grants?from="+url.QueryEscape(next), nil, 200, &a)
	if len(a.ClientGrants) != 1 {
		t.Fatalf("from alone: %+v", a)
	}
	a = answer{}
	e.call(t, "GET", "/api/v2/client-grants?take=5&audience=https://nothing.example/", nil, 200, &a)
	if a.ClientGrants == nil || len(a.ClientGrants) != 0 || a.Next != nil {
		t.Fatalf("empty list: %+v", a)
	}

	for _, tt := range []struct{ name, query, want string }{
		{"take zero", "take=0", "'take' must be an integer from 1 to 100"},
		{"take too large", "take=101", "'take' must be an integer from 1 to 100"},
		{"take not a number", "take=ten", "'take' must be an integer"},
		{"from not a checkpoint", "from=%25%25", "'from' is not a checkpoint"},
		{"take with per_page", "take=2&per_page=2", "not both"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, "GET", "/api/v2/client-grants?"+tt.query, nil, e.token(t, all...))
			if status != 400 || !strings.Contains(string(body), tt.want) {
				t.Errorf("%d %s; want 400 with %q", status, body, tt.want)
			}
		})
	}
}
