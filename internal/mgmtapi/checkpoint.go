package mgmtapi

import (
	"net/http"
	"strconv"
)

// Checkpoint pagination: Auth0's other way through a list, with from (an
// opaque position, here the id of the first item to return) and take (how
// many). Its answer is {<key>: [...], "next": "…"}, next present only
// when more items follow. The current SDK asks for client grants,
// connections, organizations, organization members and role users this
// way (GET /client-grants?include_totals=true&take=50), so a list that
// refused from and take could not be read with it at all.

// checkpoint is the pagination of a list read with from and take.
type checkpoint struct {
	From string
	Take int
}

// checkpoints marks a list that also takes from and take (see
// writeCheckpoint), for the OpenAPI document.
func (rt *Route) checkpoints() *Route { rt.checkpoint = true; return rt }

// checkpointOf reads from and take; ok is false when the request has
// neither, and the list is paged by page and per_page instead. With
// either, include_totals is ignored, as the hosted service does.
func checkpointOf(r *http.Request) (c checkpoint, ok bool, err error) {
	q := r.URL.Query()
	if !q.Has("from") && !q.Has("take") {
		return checkpoint{}, false, nil
	}
	c = checkpoint{From: q.Get("from"), Take: defaultPerPage}
	if v := q.Get("take"); v != "" {
		if c.Take, err = strconv.Atoi(v); err != nil || c.Take < 1 || c.Take > maxPerPage {
			return checkpoint{}, false, badRequest("Query validation error: 'take' must be an integer from 1 to %d", maxPerPage)
		}
	}
	return c, true, nil
}

// writeCheckpoint writes the items of all from the one whose id is
// c.From (the start when empty), at most c.Take of them, under key. all
// must be in a stable order. A from that names no item is refused: it was
// not a next this list gave.
func writeCheckpoint[T any](w http.ResponseWriter, c checkpoint, key string, all []T, id func(T) string) error {
	start := 0
	if c.From != "" {
		start = -1
		for i, v := range all {
			if id(v) == c.From {
				start = i
				break
			}
		}
		if start < 0 {
			return badRequest("Query validation error: 'from' is not a position in this list")
		}
	}
	end := min(start+c.Take, len(all))
	out := map[string]any{key: nonNil(all[start:end])}
	if end < len(all) {
		out["next"] = id(all[end])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
