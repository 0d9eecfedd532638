package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// PgRestartEnv enables TestPostgresRestart, which restarts the PostgreSQL server every other
// PostgreSQL test uses: .ci/run sets it for a run of its own after `go test ./...`.
const PgRestartEnv = "LATCH_TEST_PG_RESTART"

// TestPostgresRestart is the fault test of product.md's "The database going away": OTP logins
// arrive at a steady rate (open loop, 127.0.0.1 only) while PostgreSQL restarts
// (`pg_ctlcluster 15 main restart -m fast`). No request may get a 500 or lose its connection;
// a request that could not reach the database gets 503 with Retry-After; the errors last less
// than 3 s; /readyz is 200 again soon after the server is back; and every login that was
// acknowledged (200 with tokens) still refreshes afterwards, so no acknowledged write was lost.
func TestPostgresRestart(t *testing.T) {
	if os.Getenv(PgRestartEnv) == "" {
		t.Skipf("restarts PostgreSQL, which the other tests share: set %s=1 to run it alone (.ci/run does, after go test ./...)", PgRestartEnv)
	}
	base := os.Getenv(storetest.PostgresEnv)
	if base == "" {
		t.Skipf("needs PostgreSQL: set %s", storetest.PostgresEnv)
	}
	cluster := strings.Fields(envOr("LATCH_TEST_PG_CLUSTER", "15 main"))
	if os.Geteuid() != 0 {
		t.Skip("cannot restart PostgreSQL: pg_ctlcluster needs root")
	}
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		t.Skip("cannot restart PostgreSQL: no pg_ctlcluster (Debian's postgresql-common)")
	}
	if out, err := exec.Command("pg_ctlcluster", append(cluster, "status")...).CombinedOutput(); err != nil {
		t.Skipf("cannot restart PostgreSQL: cluster %v is not running here: %v %s", cluster, err, out)
	}
	t.Cleanup(func() { ensurePostgres(t, cluster, base) })

	var pg storetest.Engine
	for _, e := range storetest.Engines() {
		if e.Name == "postgres" {
			pg = e
		}
	}
	s := latchtest.Start(t, pg.DSN(t), latchtest.Options{})
	c := &faultClient{base: s.URL, hc: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	c.token = c.clientToken(t, s.ClientID, s.ClientSecret)

	// A user per login: no send limit or lockout can get in the way.
	const maxLogins, rate = 1500, 150 // logins/s; the run lasts about 1 s + the restart + 2.5 s
	users := make([]string, maxLogins)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < maxLogins; i += 8 {
				users[i] = fmt.Sprintf("fault-%d@pgrestart.latch.test", i)
				if st, body, err := c.post("/cis/v1/users", map[string]any{"email": users[i]}); err != nil || st != http.StatusCreated {
					t.Errorf("create user: %d %s %v", st, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The load: a login every 1/rate s, each in its own goroutine (at most 128 at once).
	type login struct {
		start, end time.Time
		outcome    string // "ok", "send 503", "authenticate 503", "transport", ...
		refresh    string
	}
	logins := make([]login, 0, maxLogins)
	var mu sync.Mutex
	stop := make(chan struct{})
	slots := make(chan struct{}, 128)
	var loadWG sync.WaitGroup
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for i := range maxLogins {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			slots <- struct{}{}
			loadWG.Add(1)
			go func() {
				defer loadWG.Done()
				defer func() { <-slots }()
				l := login{start: time.Now()}
				l.outcome, l.refresh = c.otpLogin(users[i])
				l.end = time.Now()
				mu.Lock()
				logins = append(logins, l)
				mu.Unlock()
			}()
		}
	}()

	// A planned restart begins with a checkpoint, as an operator's would: PostgreSQL's shutdown
	// then has little to write. Without it, after the whole suite's writes, a restart was seen to
	// take 5.3 s, and no client can shorten PostgreSQL's own downtime.
	checkpoint(t, base)
	probe := probePostgres(base)

	time.Sleep(time.Second)
	restartStart := time.Now()
	out, err := exec.Command("pg_ctlcluster", append(cluster, "restart", "-m", "fast")...).CombinedOutput()
	restartEnd := time.Now()
	if err != nil {
		close(stop)
		loadWG.Wait()
		t.Fatalf("pg_ctlcluster restart: %v %s", err, out)
	}
	// Readiness: 200 again soon after the server is back.
	ready := time.Duration(-1)
	for time.Since(restartEnd) < 10*time.Second {
		if st, _, err := c.get("/readyz"); err == nil && st == http.StatusOK {
			ready = time.Since(restartEnd)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2500*time.Millisecond - time.Since(restartEnd))
	close(stop)
	loadWG.Wait()
	pgDown := probe()

	// What happened, by outcome, and the window during which logins failed.
	byOutcome := map[string]int{}
	var firstFail, lastFail time.Time
	var acked []string
	for _, l := range logins {
		byOutcome[l.outcome]++
		if l.outcome == "ok" {
			acked = append(acked, l.refresh)
			continue
		}
		if firstFail.IsZero() || l.start.Before(firstFail) {
			firstFail = l.start
		}
		if l.end.After(lastFail) {
			lastFail = l.end
		}
	}
	keys := make([]string, 0, len(byOutcome))
	for k := range byOutcome {
		keys = append(keys, fmt.Sprintf("%s: %d", k, byOutcome[k]))
	}
	slices.Sort(keys)
	window := lastFail.Sub(firstFail)
	t.Logf("%d logins at %d/s; PostgreSQL restart took %v; outcomes: %s", len(logins), rate, restartEnd.Sub(restartStart).Round(time.Millisecond), strings.Join(keys, ", "))
	t.Logf("error window: %v (first failed login started %v after the restart began); /readyz 200 %v after the restart returned; PostgreSQL itself refused new connections for %v",
		window.Round(time.Millisecond), firstFail.Sub(restartStart).Round(time.Millisecond), ready.Round(time.Millisecond), pgDown.Round(time.Millisecond))

	for k, n := range byOutcome {
		if k != "ok" && !strings.HasSuffix(k, " 503") {
			t.Errorf("%d logins ended with %q: a database restart must be a 503, never a 500 or a broken connection", n, k)
		}
	}
	if window >= 3*time.Second {
		t.Errorf("logins failed for %v, want under 3 s", window)
	}
	if ready < 0 || ready > 2*time.Second {
		t.Errorf("/readyz was 200 again %v after PostgreSQL was back, want within a second or two", ready)
	}
	if len(acked) == 0 {
		t.Fatal("no login succeeded")
	}

	// Every acknowledged login's refresh token still works: its session and token were committed.
	var lost []string
	var lmu sync.Mutex
	var rwg sync.WaitGroup
	for g := range 8 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for i := g; i < len(acked); i += 8 {
				st, body, err := c.post("/cis/v1/auth/token/refresh", map[string]any{"refresh_token": acked[i]})
				if err != nil || st != http.StatusOK {
					lmu.Lock()
					lost = append(lost, fmt.Sprintf("%d %s %v", st, body, err))
					lmu.Unlock()
				}
			}
		}()
	}
	rwg.Wait()
	t.Logf("%d acknowledged logins refreshed after the restart, %d failed", len(acked)-len(lost), len(lost))
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged logins no longer refresh, e.g. %s", len(lost), len(acked), lost[0])
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// checkpoint runs CHECKPOINT on the server dsn names.
func checkpoint(t *testing.T, dsn string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		t.Fatalf("CHECKPOINT: %v", err)
	}
}

// probePostgres opens a new connection to the server every 20 ms until the returned function is
// called, which answers for how long connections failed (first failure to last): PostgreSQL's
// own downtime, beside which Latch's error window is read.
func probePostgres(dsn string) func() time.Duration {
	done := make(chan struct{})
	result := make(chan time.Duration, 1)
	go func() {
		var first, last time.Time
		defer func() { result <- last.Sub(first) }()
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		db.SetMaxIdleConns(0) // every probe a new connection
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := db.PingContext(ctx)
			cancel()
			if err != nil {
				if first.IsZero() {
					first = time.Now()
				}
				last = time.Now()
			}
		}
	}()
	return func() time.Duration { close(done); return <-result }
}

// ensurePostgres leaves the server running for the tests after this one: it starts the cluster
// if the restart left it down, and waits until it takes connections.
func ensurePostgres(t *testing.T, cluster []string, dsn string) {
	if exec.Command("pg_ctlcluster", append(cluster, "status")...).Run() != nil {
		if out, err := exec.Command("pg_ctlcluster", append(cluster, "start")...).CombinedOutput(); err != nil {
			t.Errorf("PostgreSQL is down after the test and would not start: %v %s", err, out)
			return
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Error(err)
		return
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
	}
	t.Errorf("PostgreSQL takes no connections 30 s after the test: %v", err)
}

// faultClient is a minimal API client that reports outcomes instead of failing the test, so
// the load goroutines can record every answer.
type faultClient struct {
	base  string
	hc    *http.Client
	token string
}

func (c *faultClient) clientToken(t *testing.T, id, secret string) string {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := c.hc.Post(c.base+"/oidc/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("client token: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

func (c *faultClient) post(path string, body any) (int, []byte, error) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	return c.do(req)
}

func (c *faultClient) get(path string) (int, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

func (c *faultClient) do(req *http.Request) (int, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		return 0, b, fmt.Errorf("503 without Retry-After: %s", b)
	}
	return resp.StatusCode, b, err
}

// otpLogin sends a code on the direct channel and authenticates with it: "ok" and the refresh
// token, or what failed ("send 503", "authenticate 500", "transport").
func (c *faultClient) otpLogin(email string) (outcome, refresh string) {
	st, body, err := c.post("/cis/v1/auth/otp/send", map[string]any{"channel": "direct", "identifier_type": "email", "identifier": email})
	if err != nil {
		return "send transport", ""
	}
	var sent struct {
		Code string `json:"code"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &sent) != nil || sent.Code == "" {
		return fmt.Sprintf("send %d", st), ""
	}
	st, body, err = c.post("/cis/v1/auth/otp/authenticate", map[string]any{"passcode": sent.Code, "identifier_type": "email", "identifier": email})
	if err != nil {
		return "authenticate transport", ""
	}
	var tr struct {
		RefreshToken string `json:"refresh_token"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.RefreshToken == "" {
		return fmt.Sprintf("authenticate %d", st), ""
	}
	return "ok", tr.RefreshToken
}
