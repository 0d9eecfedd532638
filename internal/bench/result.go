package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. Its JSON form is the `latch bench --json` contract.
type Result struct {
	Flow         string         `json:"flow"`
	DurationS    float64        `json:"duration_s"`  // length of the timed part
	Concurrency  int            `json:"concurrency"` // workers
	Requests     int            `json:"requests"`    // logins (or grants) attempted, each a whole flow
	Errors       int            `json:"errors"`      // attempts that failed
	PerSecond    float64        `json:"per_second"`  // completed logins (or grants) per second
	P50ms        float64        `json:"p50_ms"`      // latency of a completed login, whole flow
	P90ms        float64        `json:"p90_ms"`
	P99ms        float64        `json:"p99_ms"`
	MaxMs        float64        `json:"max_ms"`
	ErrorsByCode map[string]int `json:"errors_by_code"` // "STATUS error_code" or "transport"
	// P999ms is the 99.9th percentile; in the open loop every latency counts from the login's due time.
	P999ms float64 `json:"p999_ms"`
	// OfferedPerSecond is the open loop's schedule (--rate): logins offered per second; absent in
	// the closed loop. PerSecond is then the achieved rate.
	OfferedPerSecond float64 `json:"offered_per_second,omitempty"`
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted, or 0 when empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 } // ms, µs precision

// summarize sorts lat in place and fills the latency and rate fields of r.
func (r *Result) summarize(lat []time.Duration, elapsed time.Duration) {
	slices.Sort(lat)
	r.DurationS = math.Round(elapsed.Seconds()*1000) / 1000
	if elapsed > 0 {
		r.PerSecond = math.Round(float64(len(lat))/elapsed.Seconds()*10) / 10
	}
	r.P50ms = ms(percentile(lat, 50))
	r.P90ms = ms(percentile(lat, 90))
	r.P99ms = ms(percentile(lat, 99))
	r.P999ms = ms(percentile(lat, 99.9))
	if len(lat) > 0 {
		r.MaxMs = ms(lat[len(lat)-1])
	}
}

// unit is what one operation of the flow completes: a grant or a login.
func (r Result) unit() string {
	if r.Flow == FlowClientCredentials {
		return "grants"
	}
	if r.Flow == FlowRefresh {
		return "refreshes"
	}
	return "logins"
}

// Table renders r for a terminal.
func (r Result) Table() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "flow\t%s\n", r.Flow)
	fmt.Fprintf(w, "duration\t%.2f s\n", r.DurationS)
	if r.OfferedPerSecond > 0 {
		fmt.Fprintf(w, "offered\t%.1f %s/s\t(open loop, up to %d in flight; latency from each login's due time)\n", r.OfferedPerSecond, r.unit(), r.Concurrency)
	} else {
		fmt.Fprintf(w, "concurrency\t%d\n", r.Concurrency)
	}
	fmt.Fprintf(w, "requests\t%d\t(%s attempted)\n", r.Requests, r.unit())
	fmt.Fprintf(w, "%s/s\t%.1f\t(completed)\n", r.unit(), r.PerSecond)
	fmt.Fprintf(w, "latency p50\t%.2f ms\n", r.P50ms)
	fmt.Fprintf(w, "latency p90\t%.2f ms\n", r.P90ms)
	fmt.Fprintf(w, "latency p99\t%.2f ms\n", r.P99ms)
	fmt.Fprintf(w, "latency p99.9\t%.2f ms\n", r.P999ms)
	fmt.Fprintf(w, "latency max\t%.2f ms\n", r.MaxMs)
	fmt.Fprintf(w, "errors\t%d\n", r.Errors)
	keys := make([]string, 0, len(r.ErrorsByCode))
	for k := range r.ErrorsByCode {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := r.ErrorsByCode[b] - r.ErrorsByCode[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		fmt.Fprintf(w, "  %s\t%d\n", k, r.ErrorsByCode[k])
	}
	w.Flush()
	return b.String()
}
