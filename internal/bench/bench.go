// Package bench is the load generator behind `latch bench`: it drives Latch's real HTTP login flows
// (the same calls an app backend makes) with many concurrent workers and reports throughput and
// latency percentiles. It depends only on the HTTP API, never on Latch's internal packages, so it
// measures exactly what a client sees and works against any Mosaic-compatible server.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The flows `latch bench --flow` runs.
const (
	FlowClientCredentials = "client_credentials"
	FlowOTP               = "otp"
	FlowMagicLink         = "magiclink"
	FlowTOTP              = "totp"
	FlowRefresh           = "refresh"
	FlowHosted            = "hosted"
	FlowPassword          = "password"
)

// Flows lists the flow names in the order help text shows them.
var Flows = []string{FlowClientCredentials, FlowOTP, FlowMagicLink, FlowTOTP, FlowRefresh, FlowHosted, FlowPassword}

// defaultSendLimit is Latch's default app setting send_limit: sends per user (whatever the method
// and channel) in 15 minutes. The bench cannot read the app's setting, so its pool-size advice assumes the default.
const defaultSendLimit = 5

// Config is one benchmark run.
type Config struct {
	URL          string // Latch base URL, e.g. http://127.0.0.1:8080
	ClientID     string
	ClientSecret string
	Flow         string
	Duration     time.Duration // length of the timed part
	Concurrency  int           // workers, each running one flow at a time (open loop: logins in flight at most)
	// Rate, when > 0, runs the open loop: Rate logins per second on a fixed schedule, latency
	// counted from each login's due time (see openloop.go). 0: the closed loop of Concurrency workers.
	Rate        float64
	Users       int          // users to create; 0 picks the flow's default
	RedirectURI string       // magiclink and hosted; default URL + "/demo/callback"
	HTTPClient  *http.Client // nil: a keep-alive client sized for Concurrency
}

// sizedLoginRate is the login rate the default pool of the send-limited flows (otp, magiclink,
// hosted) is sized for: a pool for fewer logins than the server completes turns the rest into 429s.
const sizedLoginRate = 3000

// DefaultUsers is the user pool a flow creates when Config.Users is 0 (0: the flow needs none).
func DefaultUsers(flow string, concurrency int, duration time.Duration) int {
	switch flow {
	case FlowOTP, FlowMagicLink, FlowHosted:
		// Each user may be sent 5 codes per 15 minutes by default (app setting send_limit): at least
		// 64 users per worker, and enough for sizedLoginRate logins/s for the run (creating a user is
		// cheaper than a login).
		window := min(duration, 15*time.Minute)
		return max(concurrency*64, int(math.Ceil(window.Seconds()*sizedLoginRate/defaultSendLimit)))
	case FlowTOTP:
		// Each user logs in once per 30 s time step (replay protection), and preparing one costs
		// three requests (OTP send, authenticate, TOTP register).
		return concurrency * 40
	case FlowRefresh, FlowPassword:
		return concurrency * 4
	}
	return 0
}

// errSkipped is an operation that did not start (the timed part ended while it waited).
var errSkipped = errors.New("skipped")

type flowDef struct {
	setup func(ctx context.Context, r *runner) error
	op    func(ctx context.Context, w *worker) (time.Duration, error)
}

var flowDefs = map[string]flowDef{
	FlowClientCredentials: {op: opClientCredentials},
	FlowOTP:               {op: opOTP},
	FlowMagicLink:         {op: opMagicLink},
	FlowTOTP:              {setup: setupTOTP, op: opTOTP},
	FlowRefresh:           {setup: setupRefresh, op: opRefresh},
	FlowHosted:            {op: opHosted},
	FlowPassword:          {op: opPassword},
}

// benchUser is one user of the pool. A user belongs to one worker, so no field needs a lock.
type benchUser struct {
	email    string
	password string // the password flow's, set when the user is created
	totpKey  []byte
	totp     totpParams
	lastStep int64 // last TOTP time step used to log in
}

type runner struct {
	cfg      Config
	api      *api
	progress io.Writer
	runID    string
	users    []*benchUser
	workers  []*worker
	deadline time.Time // end of the timed part
}

// worker runs operations one after another; everything it touches is its own.
type worker struct {
	conn
	r       *runner
	id      int
	users   []*benchUser // users i with i % concurrency == id: never shared with another worker
	next    int
	refresh string // refresh flow: the newest refresh token of this worker's session

	lat      []time.Duration
	requests int
	errs     map[string]int
	samples  map[string]string // one error body per key, for the post-run notes
	starved  int               // totp: waits for a new time step because every user had used this one
}

func (w *worker) nextUser() *benchUser {
	u := w.users[w.next%len(w.users)]
	w.next++
	return u
}

func (r *runner) logf(format string, args ...any) { fmt.Fprintf(r.progress, format+"\n", args...) }

// Run creates the users the flow needs, prepares them, then runs cfg.Flow with cfg.Concurrency
// workers for cfg.Duration and returns what it measured. Progress goes to progress (nil: nowhere)
// during setup and after the timed part, never during it. Failed operations are counted in the
// Result, not returned as an error; the error is for a run that could not be set up or was cancelled.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	if err := cfg.normalize(); err != nil {
		return Result{}, err
	}
	def := flowDefs[cfg.Flow]
	r := &runner{cfg: cfg, api: newAPI(cfg), progress: progress, runID: newRunID()}
	defer r.api.close()

	if _, err := r.api.tok.header(ctx, r.api); err != nil {
		return Result{}, err
	}
	renewCtx, stopRenew := context.WithCancel(ctx)
	defer stopRenew()
	go r.api.tok.renew(renewCtx, r.api)

	r.adviseUsers()
	if cfg.Users > 0 {
		if err := r.createUsers(ctx); err != nil {
			return Result{}, err
		}
	}
	r.workers = make([]*worker, cfg.Concurrency)
	perWorker := int(min(max(cfg.Duration.Seconds()*2000/float64(cfg.Concurrency), 1024), 1<<17))
	for i := range r.workers {
		w := &worker{conn: conn{api: r.api}, r: r, id: i, lat: make([]time.Duration, 0, perWorker),
			errs: map[string]int{}, samples: map[string]string{}}
		for j := i; j < len(r.users); j += cfg.Concurrency {
			w.users = append(w.users, r.users[j])
		}
		r.workers[i] = w
	}
	if def.setup != nil {
		if err := def.setup(ctx, r); err != nil {
			return Result{}, err
		}
	}

	var res Result
	var err error
	if cfg.Rate > 0 {
		r.logf("running %s for %s at %g logins/s (open loop, up to %d in flight)", cfg.Flow, cfg.Duration, cfg.Rate, cfg.Concurrency)
		res, err = r.openLoop(ctx, def.op)
	} else {
		r.logf("running %s for %s with %d workers", cfg.Flow, cfg.Duration, cfg.Concurrency)
		res, err = r.timed(ctx, def.op)
	}
	r.notes(res)
	return res, err
}

func (cfg *Config) normalize() error {
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: must be an http(s) URL", cfg.URL)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return errors.New("client id and client secret are required")
	}
	if _, ok := flowDefs[cfg.Flow]; !ok {
		return fmt.Errorf("flow %q: must be one of %s", cfg.Flow, strings.Join(Flows, ", "))
	}
	if cfg.Duration <= 0 {
		return errors.New("duration must be positive")
	}
	if cfg.Concurrency < 1 {
		return errors.New("concurrency must be at least 1")
	}
	if cfg.Users < 0 {
		return errors.New("users must not be negative")
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return errors.New("rate must be a positive number of logins per second (or 0 for the closed loop)")
	}
	if cfg.RedirectURI == "" {
		cfg.RedirectURI = cfg.URL + "/demo/callback"
	}
	if DefaultUsers(cfg.Flow, 1, time.Second) == 0 {
		cfg.Users = 0 // client_credentials logs no user in
	} else if cfg.Users == 0 {
		cfg.Users = DefaultUsers(cfg.Flow, cfg.Concurrency, cfg.Duration)
		if cfg.Rate > 0 {
			cfg.Users = max(cfg.Users, openLoopUsers(cfg.Flow, cfg.Rate, cfg.Duration))
		}
	}
	return nil
}

// adviseUsers fixes a pool smaller than the workers and says what the pool allows.
func (r *runner) adviseUsers() {
	cfg := &r.cfg
	if cfg.Users == 0 {
		return
	}
	if cfg.Users < cfg.Concurrency {
		r.logf("warning: --users %d is below --concurrency %d; using %d users (each worker needs its own)", cfg.Users, cfg.Concurrency, cfg.Concurrency)
		cfg.Users = cfg.Concurrency
	}
	switch cfg.Flow {
	case FlowOTP, FlowMagicLink, FlowHosted:
		r.logf("note: Latch allows %d sends per user in 15 minutes by default (app setting send_limit); %d users cover about %d logins (%.0f/s for %s). Raise --users or the app's send_limit for faster servers or longer runs.",
			defaultSendLimit, cfg.Users, cfg.Users*defaultSendLimit, float64(cfg.Users*defaultSendLimit)/min(cfg.Duration, 15*time.Minute).Seconds(), cfg.Duration)
		if want := DefaultUsers(cfg.Flow, cfg.Concurrency, cfg.Duration); cfg.Users < want {
			r.logf("warning: --users %d is below the default %d for this run; expect 429 rate_limit_exceeded once a user has had %d codes", cfg.Users, want, defaultSendLimit)
		}
	case FlowTOTP:
		r.logf("note: a TOTP code logs a user in once per 30 s time step, and the bench uses the current and the next step, so %d users can log in twice before the next step boundary, which may come as late as 30 s into the run, and once more at each boundary: they guarantee about %.0f logins/s for the first 30 s and %.0f/s after (more when a boundary comes early); for a faster server or a longer run pass --users 30 x the expected logins/s", cfg.Users, 2*float64(cfg.Users)/30, float64(cfg.Users)/30)
		if want := DefaultUsers(cfg.Flow, cfg.Concurrency, cfg.Duration); cfg.Users < want {
			r.logf("warning: --users %d is below the default %d for %d workers; workers will wait for new time steps", cfg.Users, want, cfg.Concurrency)
		}
	}
}

// timed runs op on every worker until the duration is over. Operations in flight at the deadline
// finish and count; the elapsed time runs until the last one is done.
func (r *runner) timed(ctx context.Context, op func(context.Context, *worker) (time.Duration, error)) (Result, error) {
	start := time.Now()
	deadline := start.Add(r.cfg.Duration)
	r.deadline = deadline
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				d, err := op(ctx, w)
				if errors.Is(err, errSkipped) || ctx.Err() != nil {
					break
				}
				w.requests++
				if err != nil {
					key := errorKey(err)
					w.errs[key]++
					if _, ok := w.samples[key]; !ok {
						w.samples[key] = err.Error()
					}
					continue
				}
				w.lat = append(w.lat, d)
			}
		}()
	}
	wg.Wait()
	return r.collect(time.Since(start)), ctx.Err()
}

// collect gathers the workers' counts and latencies into a Result of a run that took elapsed.
func (r *runner) collect(elapsed time.Duration) Result {
	res := Result{Flow: r.cfg.Flow, Concurrency: r.cfg.Concurrency, ErrorsByCode: map[string]int{}}
	n := 0
	for _, w := range r.workers {
		n += len(w.lat)
	}
	lat := make([]time.Duration, 0, n)
	for _, w := range r.workers {
		lat = append(lat, w.lat...)
		res.Requests += w.requests
		for k, v := range w.errs {
			res.ErrorsByCode[k] += v
			res.Errors += v
		}
	}
	res.summarize(lat, elapsed)
	return res
}

// notes prints, after the timed part, what the operator should know about the run's errors.
func (r *runner) notes(res Result) {
	seen := map[string]bool{}
	for _, w := range r.workers {
		keys := make([]string, 0, len(w.samples))
		for k := range w.samples {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				r.logf("error example: %s", w.samples[k])
			}
		}
	}
	if n := res.ErrorsByCode["429 rate_limit_exceeded"]; n > 0 && r.cfg.Users > 0 {
		need := (res.Requests + defaultSendLimit - 1) / defaultSendLimit
		r.logf("warning: %d logins were rate limited: this run's %[2]d attempts need up to %[3]d users at the default send_limit of %[4]d (it had %[5]d); pass --users %[3]d or raise the app's send_limit",
			n, res.Requests, need, defaultSendLimit, r.cfg.Users)
		if r.cfg.Flow == FlowHosted {
			r.logf("note: the hosted flow delivers its codes by email, which the app's ceiling app_sends_per_minute (default 600) counts: bench an app made with `latch app create --setting app_sends_per_minute=1000000 ...`")
		}
	}
	starved := 0
	for _, w := range r.workers {
		starved += w.starved
	}
	if starved > 0 {
		r.logf("warning: workers waited %d times for a new TOTP time step because all their users had logged in during the current one: the pool of %d users limited the rate; raise --users",
			starved, r.cfg.Users)
	}
}

func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parallel runs fn(i) for i in [0, n) on up to workers goroutines, each with its own conn, printing
// progress every second. The first error stops it.
func (r *runner) parallel(ctx context.Context, label string, n, workers int, fn func(ctx context.Context, c *conn, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &conn{api: r.api}
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := retryShed(ctx, func() error { return fn(ctx, c, i) }); err != nil {
					cancel(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if err := context.Cause(ctx); err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			r.logf("%s: %d/%d in %.1f s", label, n, n, time.Since(start).Seconds())
			return nil
		case <-tick.C:
			r.logf("%s: %d/%d", label, done.Load(), n)
		}
	}
}

// setupShedRetries bounds how often setup retries a step the server shed (503), shedWait apart.
const setupShedRetries = 30

var shedWait = time.Second

// retryShed runs a setup step, and again after a second (the server's Retry-After) while the
// server sheds it with 503 service_unavailable: a server started with a small --max-in-flight
// sheds setup's parallel requests, which are not what is measured.
func retryShed(ctx context.Context, step func() error) error {
	for attempt := 0; ; attempt++ {
		err := step()
		var oe *opError
		if attempt >= setupShedRetries || !errors.As(err, &oe) || !strings.HasPrefix(oe.key, "503") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(shedWait):
		}
	}
}

// setupWorkers is how many requests setup runs at once.
func (r *runner) setupWorkers() int { return min(max(r.cfg.Concurrency, 8), 64) }
