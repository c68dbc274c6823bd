package mgmtapi

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// fromTake is checkpoint pagination, the hosted service's alternative to
// page numbers for long lists: take items after the checkpoint from, and
// the answer's "next" is the checkpoint of the following page. Unlike a
// page number, a checkpoint stays put when items before it are added or
// deleted between calls.
type fromTake struct {
	// on tells whether the request asked for it (from or take given).
	on   bool
	from string // the sort key of the last item of the previous page; "" for the first page
	take int
}

// fromTakeOf reads from and take. Mixed with page numbers they are
// refused: the two answer in different shapes. include_totals is ignored
// beside them, as the hosted service does: the current Auth0 SDK sends
// include_totals=true with take on every checkpoint call.
func fromTakeOf(r *http.Request) (fromTake, error) {
	q := r.URL.Query()
	if !q.Has("from") && !q.Has("take") {
		return fromTake{}, nil
	}
	if q.Has("page") || q.Has("per_page") {
		return fromTake{}, badRequest("Query validation error: use page and per_page, or from and take, not both")
	}
	ft := fromTake{on: true, take: defaultPerPage}
	if v := q.Get("take"); q.Has("take") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			return fromTake{}, badRequest("Query validation error: 'take' must be an integer from 1 to %d", maxPerPage)
		}
		ft.take = n
	}
	if v := q.Get("from"); v != "" {
		key, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(key) == 0 {
			return fromTake{}, badRequest("Query validation error: 'from' is not a checkpoint this API gave")
		}
		ft.from = string(key)
	}
	return ft, nil
}

// writeFromTake writes the page of all (sorted by key, each key unique)
// after the checkpoint, as {listKey: [...], "next": "…"}; "next" is left
// out on the last page.
func writeFromTake[T any](w http.ResponseWriter, ft fromTake, listKey string, all []T, key func(T) string) {
	start := 0
	if ft.from != "" {
		start, _ = slices.BinarySearchFunc(all, ft.from, func(item T, from string) int {
			return strings.Compare(key(item), from)
		})
		// The checkpoint is the last item taken: start after it.
		if start < len(all) && key(all[start]) == ft.from {
			start++
		}
	}
	end := min(start+ft.take, len(all))
	items := all[start:end]
	if items == nil {
		items = []T{}
	}
	out := map[string]any{listKey: items}
	if end < len(all) && len(items) > 0 {
		out["next"] = base64.RawURLEncoding.EncodeToString([]byte(key(items[len(items)-1])))
	}
	writeJSON(w, http.StatusOK, out)
}

// writeList writes a list as the request asked: checkpoint pagination,
// or page numbers (the bare list, or with include_totals the object). all
// must be sorted by key.
func writeList[T any](w http.ResponseWriter, r *http.Request, listKey string, all []T, key func(T) string) error {
	ft, err := fromTakeOf(r)
	if err != nil {
		return err
	}
	if ft.on {
		writeFromTake(w, ft, listKey, all, key)
		return nil
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	pageSlice(w, p, listKey, all)
	return nil
}
