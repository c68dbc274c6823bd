package loadtest

import (
	"fmt"
	"io"
	"math/bits"
	"strings"
	"text/tabwriter"
	"time"
)

// step is one timed part of a flow.
type step int

const (
	stepAuthorize step = iota // the authorization endpoint, up to the first page or the code
	stepLogin                 // the login form, up to the next page or the code
	stepConsent               // the consent form, up to the code
	stepToken                 // the code exchange at the token endpoint
	stepRefresh               // a refresh-token grant at the token endpoint
	stepUserInfo              // a UserInfo request
	stepSearch                // a user search of the management API
	stepGetUser               // a read of one user by ID through the management API
	stepFlow                  // one whole flow, validation included
	numSteps
)

var stepNames = [numSteps]string{"authorize", "login", "consent", "token", "refresh", "userinfo", "search", "get_user", "flow"}

// hist is a latency histogram in microseconds with log-linear buckets: exact
// below 128 µs, then 64 buckets per power of two (under 1.6 % error), up to
// 2^32 µs. A fixed size keeps a long run's memory flat, which a list of
// samples would not.
type hist struct {
	counts   [histBuckets]uint64
	n        uint64
	sumMicro uint64
	maxMicro uint64
}

const (
	histSub     = 64
	histMaxBits = 32
	histBuckets = 2*histSub + (histMaxBits-7)*histSub
)

func bucketOf(us uint64) int {
	if us < 2*histSub {
		return int(us)
	}
	if us >= 1<<histMaxBits {
		return histBuckets - 1
	}
	e := bits.Len64(us) - 7 // keeps the top 7 bits: 64 ≤ us>>e < 128
	return 2*histSub + (e-1)*histSub + int(us>>e) - histSub
}

// bucketMid is the middle of bucket i in microseconds.
func bucketMid(i int) float64 {
	if i < 2*histSub {
		return float64(i)
	}
	e := (i-2*histSub)/histSub + 1
	m := uint64((i-2*histSub)%histSub + histSub)
	return float64(m<<e) + float64(uint64(1)<<e)/2
}

func (h *hist) add(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(us)]++
	h.n++
	h.sumMicro += us
	h.maxMicro = max(h.maxMicro, us)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sumMicro += o.sumMicro
	h.maxMicro = max(h.maxMicro, o.maxMicro)
}

// quantile returns the q-quantile in microseconds (nearest rank).
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketMid(i), float64(h.maxMicro))
		}
	}
	return float64(h.maxMicro)
}

// Report is the outcome of a run. Times are in the measured phase only:
// the logins that set up sso, exchange, refresh and userinfo workers,
// exchange's code minting, and the management scenarios' first access
// token are not in it.
type Report struct {
	Scenario    string   `json:"scenario"`
	Issuer      string   `json:"issuer"`
	ClientID    string   `json:"client_id"`
	Concurrency int      `json:"concurrency"`
	PKCE        bool     `json:"pkce"`
	Scopes      []string `json:"scopes"`
	// Seconds is the measured wall-clock time.
	Seconds float64 `json:"seconds"`
	// Flows is the number of flows attempted: OK + Errors.
	Flows  int64 `json:"flows"`
	OK     int64 `json:"ok"`
	Errors int64 `json:"errors"`
	// SetupErrors counts failures outside the measured flows: a worker's
	// first login, or minting codes for exchange.
	SetupErrors int64  `json:"setup_errors"`
	FirstError  string `json:"first_error,omitempty"`
	// FlowsPerSecond counts successful flows only.
	FlowsPerSecond float64     `json:"flows_per_second"`
	Steps          []StepStats `json:"steps"`
	// ClientCPUSeconds is this process's CPU time in the measured phase:
	// on the same machine, it is CPU the server could not use.
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	// MachineCPUSeconds is the busy CPU time of every process on the
	// machine in the measured phase (Linux /proc/stat). What exceeds the
	// server's and this process's CPU was taken by others.
	MachineCPUSeconds float64      `json:"machine_cpu_seconds"`
	Server            *ServerStats `json:"server,omitempty"`
}

// StepStats are the latencies of one step of the successful flows, in
// milliseconds.
type StepStats struct {
	Name  string  `json:"name"`
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// ServerStats is what /proc says about the server process.
type ServerStats struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUPerFlowMillis is the server's CPU time per attempted flow.
	CPUPerFlowMillis float64 `json:"cpu_per_flow_ms"`
	// RSSKiB is the resident set at the end; PeakRSSKiB the process's
	// high-water mark since it started.
	RSSKiB     int64 `json:"rss_kib"`
	PeakRSSKiB int64 `json:"peak_rss_kib"`
}

func stepStats(name string, h *hist) StepStats {
	ms := func(us float64) float64 { return us / 1000 }
	return StepStats{
		Name:  name,
		Count: int64(h.n),
		Mean:  ms(float64(h.sumMicro) / float64(max(h.n, 1))),
		P50:   ms(h.quantile(0.50)),
		P95:   ms(h.quantile(0.95)),
		P99:   ms(h.quantile(0.99)),
		Max:   ms(float64(h.maxMicro)),
	}
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	pkce := "off"
	if r.PKCE {
		pkce = "on"
	}
	fmt.Fprintf(&b, "scenario %s against %s: concurrency %d, PKCE %s, scope %q\n",
		r.Scenario, r.Issuer, r.Concurrency, pkce, strings.Join(r.Scopes, " "))
	fmt.Fprintf(&b, "%d flows in %.2fs: %d ok, %d errors → %.1f flows/s\n",
		r.Flows, r.Seconds, r.OK, r.Errors, r.FlowsPerSecond)
	if len(r.Steps) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "step\tcount\tmean ms\tp50 ms\tp95 ms\tp99 ms\tmax ms\t")
		for _, s := range r.Steps {
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", s.Name, s.Count, s.Mean, s.P50, s.P95, s.P99, s.Max)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(&b, "server pid %d: %.2f CPU s, %.3f ms CPU per flow; RSS %.1f MiB (peak %.1f MiB)\n",
			s.PID, s.CPUSeconds, s.CPUPerFlowMillis, float64(s.RSSKiB)/1024, float64(s.PeakRSSKiB)/1024)
	}
	fmt.Fprintf(&b, "load tool: %.2f CPU s; machine: %.2f CPU s busy", r.ClientCPUSeconds, r.MachineCPUSeconds)
	if s := r.Server; s != nil && r.MachineCPUSeconds > 0 {
		fmt.Fprintf(&b, ", of which %.2f by other processes", max(0, r.MachineCPUSeconds-s.CPUSeconds-r.ClientCPUSeconds))
	}
	b.WriteString("\n")
	if r.SetupErrors > 0 {
		fmt.Fprintf(&b, "setup errors: %d\n", r.SetupErrors)
	}
	if r.FirstError != "" {
		fmt.Fprintf(&b, "first error: %s\n", r.FirstError)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
