package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// maxListAll bounds what allOf reads: 50 pages of 100.
const maxListAll = 50

// allOf reads every item of an API list that has no search parameter
// (organizations, APIs, an organization's members), page by page, so that
// the console can search it itself; key is the list's name in the answer.
func allOf[T any](rq *Request, path, key string) ([]T, error) {
	var all []T
	for page := 0; page < maxListAll; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "per_page": {"100"}, "include_totals": {"true"}}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		var out map[string]json.RawMessage
		if err := rq.API.Get(rq.Context(), path+sep+q.Encode(), &out); err != nil {
			return nil, err
		}
		var items []T
		if err := json.Unmarshal(out[key], &items); err != nil {
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		var total int
		_ = json.Unmarshal(out["total"], &total)
		all = append(all, items...)
		if len(items) < 100 || len(all) >= total {
			break
		}
	}
	return all, nil
}

// pageOf searches items with match (when the list has a search) and
// returns the list's page of the result, setting its Total.
func pageOf[T any](l *List, items []T, match func(T, string) bool) []T {
	if l.Q != "" {
		q := strings.ToLower(l.Q)
		kept := items[:0:0]
		for _, it := range items {
			if match(it, q) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	l.Total = len(items)
	start := min(l.Page*l.PerPage, len(items))
	end := min(start+l.PerPage, len(items))
	return items[start:end]
}

// contains reports whether any of the texts holds q (lower case).
func contains(q string, texts ...string) bool {
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), q) {
			return true
		}
	}
	return false
}
