package console

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The dashboard: logins, failed logins and sign-ups of the last 24 hours,
// hour by hour, counted by the management API's log search and drawn
// here as SVG bar charts, with the counts as text beside them.

// dashboardHours is the span of the charts.
const dashboardHours = 24

// series is one chart: the event types it counts.
type series struct {
	Name, Class, Types string
}

var dashboardSeries = []series{
	{"Logins", "bar-logins", "s"},
	{"Failed logins", "bar-failures", "f OR fp OR fu"},
	{"Sign-ups", "bar-signups", "ss"},
}

// Chart geometry, in the SVG's own units (it scales to its box).
const (
	chartW, chartH = 480, 140
	barSlot        = chartW / dashboardHours
	plotH          = 110 // the bars' area; the axis labels sit below
)

type bar struct {
	X, Y, W, H int
	Hour       string
	Count      int
}

type chart struct {
	series
	ID    string
	Total int
	Max   int
	Bars  []bar
	Ticks []bar // the hour labels under the axis, every sixth hour
}

type dashboardPage struct {
	Page
	Charts []chart
	Hours  []string // the hours' labels, for the table of counts
	Since  string
}

// hourCount asks the API how many events of the types fell in the hour
// from start, from the total of a one-event page.
func hourCount(rq *Request, types string, start time.Time) (int, error) {
	end := start.Add(time.Hour)
	q := url.Values{"q": {fmt.Sprintf("type:(%s) AND date:[%s TO %s}", types, start.Format(time.RFC3339), end.Format(time.RFC3339))},
		"per_page": {"1"}, "include_totals": {"true"}}
	var out struct {
		Total int `json:"total"`
	}
	if err := rq.API.Get(rq.Context(), "/logs?"+q.Encode(), &out); err != nil {
		return 0, err
	}
	return out.Total, nil
}

// dashboard is the console's home.
func (c *Console) dashboard(w http.ResponseWriter, rq *Request) error {
	p := dashboardPage{Page: rq.NewPage("Dashboard", "/")}
	first := c.cfg.Now().UTC().Truncate(time.Hour).Add(-(dashboardHours - 1) * time.Hour)
	p.Since = first.Format("2006-01-02 15:04") + " UTC"
	for h := range dashboardHours {
		p.Hours = append(p.Hours, first.Add(time.Duration(h)*time.Hour).Format("15:04"))
	}
	for i, s := range dashboardSeries {
		ch := chart{series: s, ID: fmt.Sprintf("chart-%d", i)}
		counts := make([]int, dashboardHours)
		for h := range dashboardHours {
			n, err := hourCount(rq, s.Types, first.Add(time.Duration(h)*time.Hour))
			if err != nil {
				return err
			}
			counts[h] = n
			ch.Total += n
			ch.Max = max(ch.Max, n)
		}
		for h, n := range counts {
			b := bar{X: h*barSlot + 2, W: barSlot - 4, Hour: p.Hours[h], Count: n}
			if ch.Max > 0 {
				b.H = n * plotH / ch.Max
				if n > 0 && b.H < 2 {
					b.H = 2 // a count, however small, shows
				}
			}
			b.Y = plotH - b.H
			ch.Bars = append(ch.Bars, b)
			if h%6 == 0 {
				ch.Ticks = append(ch.Ticks, bar{X: h * barSlot, Y: chartH - 8, Hour: p.Hours[h]})
			}
		}
		p.Charts = append(p.Charts, ch)
	}
	rq.Render(w, http.StatusOK, "dashboard", p)
	return nil
}
