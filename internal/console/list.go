package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// perPage is the console's page size for lists.
const perPage = 20

// List is the paging and search of a list page: ?q=TEXT&page=N, N from
// 0 as the API counts. Pages pass it to the API (APIQuery), store the
// answer's total in Total, and render the "search" and "pager" templates
// of the layout with it.
type List struct {
	Path    string // the page's path, for the links
	Q       string
	Page    int
	PerPage int
	Total   int
}

// ListOf reads the list parameters of a list page; bad numbers are the
// first page.
func ListOf(r *http.Request) List {
	q := r.URL.Query()
	l := List{Path: r.URL.Path, Q: strings.TrimSpace(q.Get("q")), PerPage: perPage}
	if p, err := strconv.Atoi(q.Get("page")); err == nil && p > 0 && p < 1_000_000 {
		l.Page = p
	}
	return l
}

// APIQuery is the query of the API's list call: the page, its size and
// include_totals, and search under the API's name for it (e.g. "q"; ""
// when the API searches otherwise).
func (l List) APIQuery(search string) url.Values {
	v := url.Values{"page": {strconv.Itoa(l.Page)}, "per_page": {strconv.Itoa(l.PerPage)}, "include_totals": {"true"}}
	if search != "" && l.Q != "" {
		v.Set(search, l.Q)
	}
	return v
}

func (l List) link(page int) string {
	v := url.Values{}
	if l.Q != "" {
		v.Set("q", l.Q)
	}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return l.Path
	}
	return l.Path + "?" + v.Encode()
}

// Pages is the number of pages, at least 1.
func (l List) Pages() int { return max(1, (l.Total+l.PerPage-1)/l.PerPage) }

// HasPrev and HasNext tell whether there are pages before and after.
func (l List) HasPrev() bool { return l.Page > 0 }
func (l List) HasNext() bool { return (l.Page+1)*l.PerPage < l.Total }

// PrevURL and NextURL link the neighbouring pages, keeping the search.
func (l List) PrevURL() string { return l.link(l.Page - 1) }
func (l List) NextURL() string { return l.link(l.Page + 1) }

// Number is the page's number counted from 1, for people.
func (l List) Number() int { return l.Page + 1 }
