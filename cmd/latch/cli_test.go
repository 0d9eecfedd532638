package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// stdoutMu serializes the os.Stdout swap of runCLI: the commands print with fmt.Printf.
var stdoutMu sync.Mutex

// runCLI runs the real command tree in-process and returns what it printed on stdout.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	cmd := rootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(w)
	cmd.SetErr(io.Discard)
	runErr := cmd.Execute()
	w.Close()
	os.Stdout = old
	return <-out, runErr
}

// cliEnv clears the LATCH_* variables the flags read, so the developer's environment cannot
// change what is tested. It must run before any command is built.
func cliEnv(t *testing.T) {
	for _, v := range []string{"LATCH_ENCRYPTION_KEY", "LATCH_PROD", "LATCH_DATABASE", "LATCH_DATA_DIR", "LATCH_ADDR", "LATCH_ISSUER",
		"LATCH_SMTP_HOST", "LATCH_TWILIO_ACCOUNT_SID", "LATCH_SMS_WEBHOOK_URL", "LATCH_PPROF", "LATCH_DEV"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	t.Setenv("LATCH_LOG_LEVEL", "error")
}

// engineSetup is one database engine as the CLI sees it: the storage flags and what the
// start-up banner calls it.
type engineSetup struct {
	name    string
	storage []string // --data-dir and, for PostgreSQL, --database
	dataDir string
	dbWord  string
	dsn     string
}

// engines gives each store engine's CLI setup (PostgreSQL skips without LATCH_TEST_POSTGRES).
func engines() []struct {
	name  string
	setup func(t *testing.T) engineSetup
} {
	var out []struct {
		name  string
		setup func(t *testing.T) engineSetup
	}
	for _, e := range storetest.Engines() {
		setup := func(t *testing.T) engineSetup {
			dir := t.TempDir()
			if e.Name == "sqlite" {
				return engineSetup{name: e.Name, storage: []string{"--data-dir", dir}, dataDir: dir, dbWord: "sqlite"}
			}
			dsn := e.DSN(t)
			return engineSetup{name: e.Name, storage: []string{"--data-dir", dir, "--database", dsn}, dataDir: dir, dbWord: "postgres", dsn: dsn}
		}
		out = append(out, struct {
			name  string
			setup func(t *testing.T) engineSetup
		}{e.Name, setup})
	}
	return out
}

// decodeExactly decodes out as one JSON object with exactly the given non-empty string keys.
func decodeExactly(t *testing.T, out string, keys ...string) map[string]string {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("output is not a JSON object: %v: %q", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value printed: %q", out)
	}
	if len(m) != len(keys) {
		t.Fatalf("output has keys %v, want exactly %v", m, keys)
	}
	res := map[string]string{}
	for _, k := range keys {
		s, _ := m[k].(string)
		if s == "" {
			t.Fatalf("output %q: %s missing or empty", out, k)
		}
		res[k] = s
	}
	return res
}

// serveConfig builds a serve config the way the serve command does (flags with their
// defaults), listening on a free loopback port.
func serveConfig(t *testing.T, e engineSetup, extra ...string) *config.Config {
	t.Helper()
	var cfg config.Config
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.BindServe(fs)
	args := append(append([]string{"--addr", "127.0.0.1:0", "--log-level", "error"}, e.storage...), extra...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// running is a serve() running in the background.
type running struct {
	addr   string
	out    string
	cancel context.CancelFunc
	done   chan error
}

// startServe runs serve until the test ends (or stop is called) and waits until it listens.
// When the test ends, serve must return nil.
func startServe(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, &buf, ready) }()
	select {
	case addr := <-ready:
		// serve writes its banner before it reports ready, so reading buf here is ordered.
		rs := &running{addr: addr, out: buf.String(), cancel: cancel, done: done}
		t.Cleanup(func() {
			if err := rs.stop(t); err != nil {
				t.Errorf("serve returned %v", err)
			}
		})
		return rs
	case err := <-done:
		cancel()
		t.Fatalf("serve failed to start: %v (output %q)", err, buf.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not become ready")
	}
	return nil
}

// base is the running server's base URL.
func (rs *running) base() string { return "http://" + rs.addr }

// stop cancels serve's context and returns what serve returned.
func (rs *running) stop(t *testing.T) error {
	t.Helper()
	if rs.done == nil {
		return nil
	}
	rs.cancel()
	select {
	case err := <-rs.done:
		rs.done = nil
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after its context ended")
	}
	return nil
}

// serveErr runs serve expecting it to fail before it listens; if it starts anyway, it is
// stopped and the test fails.
func serveErr(t *testing.T, cfg *config.Config) (string, error) {
	t.Helper()
	var buf bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- serve(ctx, cfg, &buf, ready) }()
	select {
	case err := <-done:
		return buf.String(), err
	case addr := <-ready:
		cancel()
		<-done
		t.Fatalf("serve started on %s, want a start-up error", addr)
	case <-time.After(20 * time.Second):
		t.Fatal("serve neither failed nor started")
	}
	return "", nil
}

// grant gets a client_credentials token from a running server.
func grant(t *testing.T, client *http.Client, addr, id, secret string) (string, int) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := client.PostForm("http://"+addr+"/oidc/token", form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.AccessToken, resp.StatusCode
}

func mustGrant(t *testing.T, client *http.Client, addr, id, secret string) string {
	t.Helper()
	tok, status := grant(t, client, addr, id, secret)
	if status != 200 || tok == "" {
		t.Fatalf("client %s: token status %d", id, status)
	}
	return tok
}

// jwtKID reads the kid of a compact JWT's header.
// publishedKIDs lists the kids of a server's JWKS, newest first.
func publishedKIDs(t *testing.T, client *http.Client, addr string) []string {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/cis/oidc/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KID)
	}
	return out
}

func jwtKID(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	json.Unmarshal(raw, &hdr)
	return hdr.KID
}

var secretLine = regexp.MustCompile(`client_secret:\s*(\S+)`)
var idLine = regexp.MustCompile(`client_id:\s*(\S+)`)

func TestVersion(t *testing.T) {
	cliEnv(t)
	out, err := runCLI(t, "version")
	if err != nil || !strings.Contains(out, "latch") || !strings.Contains(out, version) {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestCLIAndServe(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			cliEnv(t)
			testCLIAndServe(t, eng.setup(t))
		})
	}
}

func testCLIAndServe(t *testing.T, e engineSetup) {
	cli := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		return runCLI(t, append(args, e.storage...)...)
	}

	// --- the admin commands, before any server ran ---
	out, err := cli(t, "app", "create", "--name", "shop", "--redirect-uri", "https://shop.example/cb", "--allow-signup", "--json")
	if err != nil {
		t.Fatalf("app create: %v", err)
	}
	shop := decodeExactly(t, out, "app_id", "client_id", "client_secret")

	t.Run("dev_key_file_is_generated_private", func(t *testing.T) {
		fi, err := os.Stat(filepath.Join(e.dataDir, "encryption.key"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("encryption.key mode %v, want 0600", fi.Mode().Perm())
		}
	})
	t.Run("app_create_same_name_fails", func(t *testing.T) {
		out, err := cli(t, "app", "create", "--name", "shop", "--json")
		if err == nil {
			t.Fatalf("second app create succeeded: %q", out)
		}
		if !strings.Contains(err.Error(), "exists") {
			t.Errorf("error %q does not say the name exists", err)
		}
		if strings.Contains(out, "client_secret") {
			t.Errorf("a failed create printed credentials: %q", out)
		}
	})
	t.Run("app_create_bad_redirect_uri_fails", func(t *testing.T) {
		if _, err := cli(t, "app", "create", "--name", "bad", "--redirect-uri", "ftp://x/cb", "--json"); err == nil || !strings.Contains(err.Error(), "redirect_uri") {
			t.Fatalf("err = %v, want one naming redirect_uris", err)
		}
	})
	t.Run("app_create_settings", func(t *testing.T) {
		out, err := cli(t, "app", "create", "--name", "tuned", "--setting", "app_sends_per_minute=6000", "--setting", "totp_algorithm=sha256",
			"--setting", "password_enabled=true", "--setting", "password_min_length=20", "--json")
		if err != nil {
			t.Fatalf("app create --setting: %v", err)
		}
		id := decodeExactly(t, out, "app_id", "client_id", "client_secret")["app_id"]
		err = withNode(&config.Config{DataDir: e.dataDir, Database: cmp.Or(e.dsn, "sqlite")}, func(ctx context.Context, n *node.Node) error {
			a, err := n.Apps.App(ctx, id)
			if err == nil && (a.Settings.AppSendsPerMinute != 6000 || a.Settings.TOTPAlgorithm != "SHA256" || a.Settings.SendLimit != 5 ||
				!a.Settings.PasswordEnabled || a.Settings.PasswordMinLength != 20) {
				t.Errorf("settings stored: %+v", a.Settings)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ arg, want string }{
			{"nonsense=1", "nonsense"},
			{"send_limit=many", "send_limit"},
			{"send_limit", "name=value"},
			{"otp_length=99", "otp_length"},
			// NIST SP 800-63B rev 4: under 15 only where a second factor is required.
			{"password_min_length=8", "password_min_length"},
		} {
			if _, err := cli(t, "app", "create", "--name", "bad-"+tc.want, "--setting", tc.arg, "--json"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("--setting %s: err = %v, want one naming %s", tc.arg, err, tc.want)
			}
		}
	})
	t.Run("app_create_needs_a_name", func(t *testing.T) {
		if _, err := cli(t, "app", "create", "--json"); err == nil || !strings.Contains(err.Error(), "name") {
			t.Fatalf("err = %v", err)
		}
	})
	var extra map[string]string
	t.Run("client_create", func(t *testing.T) {
		out, err := cli(t, "client", "create", "--app", shop["app_id"], "--json")
		if err != nil {
			t.Fatalf("client create: %v", err)
		}
		extra = decodeExactly(t, out, "app_id", "client_id", "client_secret")
		if extra["app_id"] != shop["app_id"] || extra["client_id"] == shop["client_id"] || extra["client_secret"] == shop["client_secret"] {
			t.Errorf("client create %v for app %v", extra, shop)
		}
	})
	t.Run("client_create_public", func(t *testing.T) {
		out, err := cli(t, "client", "create", "--app", shop["app_id"], "--public", "--json")
		if err != nil {
			t.Fatalf("client create --public: %v", err)
		}
		var pub map[string]string
		if err := json.Unmarshal([]byte(out), &pub); err != nil || len(pub) != 3 {
			t.Fatalf("output %q: %v", out, err)
		}
		if pub["app_id"] != shop["app_id"] || pub["client_id"] == "" || pub["client_secret"] != "" {
			t.Errorf("public client %v", pub)
		}
		if _, err := cli(t, "client", "create", "--app", shop["app_id"], "--public", "--admin", "--json"); err == nil {
			t.Errorf("--public --admin was accepted")
		}
	})
	t.Run("client_create_unknown_app_fails", func(t *testing.T) {
		out, err := cli(t, "client", "create", "--app", "no-such-app", "--json")
		if err == nil || !strings.Contains(err.Error(), "no-such-app") {
			t.Fatalf("err = %v (out %q), want one naming the app", err, out)
		}
	})
	var rotated string
	t.Run("keys_rotate", func(t *testing.T) {
		out, err := cli(t, "keys", "rotate", "--json")
		if err != nil {
			t.Fatal(err)
		}
		rotated = decodeExactly(t, out, "kid")["kid"]
	})

	// --- first start ---
	first := startServe(t, serveConfig(t, e))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	t.Cleanup(client.CloseIdleConnections)
	var firstSecret, firstID string
	t.Run("first_start_banner", func(t *testing.T) {
		for _, want := range []string{"http://" + first.addr, e.dbWord, "dev", "http://" + first.addr + "/dev/outbox"} {
			if !strings.Contains(first.out, want) {
				t.Errorf("banner does not mention %q:\n%s", want, first.out)
			}
		}
		if e.dsn != "" && strings.Contains(first.out, "latch:latch@") {
			t.Errorf("banner prints the database password:\n%s", first.out)
		}
		m := secretLine.FindAllStringSubmatch(first.out, -1)
		if len(m) == 0 {
			t.Fatalf("first start prints no client secret:\n%s", first.out)
		}
		firstSecret = m[0][1]
		if ids := idLine.FindStringSubmatch(first.out); ids != nil {
			firstID = ids[1]
		}
		if firstID == "" {
			t.Fatalf("first start prints no client id:\n%s", first.out)
		}
	})
	t.Run("printed_and_cli_credentials_get_tokens", func(t *testing.T) {
		if firstID == "" {
			t.Skip("no credentials printed")
		}
		tok := mustGrant(t, client, first.addr, firstID, firstSecret)
		// A rotated key is published at once and signs after it propagated to every node; the
		// token is signed by a published key, and the CLI's key is the newest one published.
		kids := publishedKIDs(t, client, first.addr)
		if kid := jwtKID(t, tok); !slices.Contains(kids, kid) {
			t.Errorf("token signed with %s, which the JWKS %v does not publish", kid, kids)
		}
		if rotated != "" && (len(kids) == 0 || kids[0] != rotated) {
			t.Errorf("JWKS %v does not lead with the key rotated by the CLI %s", kids, rotated)
		}
		mustGrant(t, client, first.addr, shop["client_id"], shop["client_secret"])
		if extra != nil {
			mustGrant(t, client, first.addr, extra["client_id"], extra["client_secret"])
		}
		if _, status := grant(t, client, first.addr, shop["client_id"], firstSecret); status != 401 {
			t.Errorf("another client's secret: status %d, want 401", status)
		}
	})
	t.Run("app_create_while_the_server_runs", func(t *testing.T) {
		out, err := cli(t, "app", "create", "--name", "live", "--json")
		if err != nil {
			t.Fatal(err)
		}
		live := decodeExactly(t, out, "app_id", "client_id", "client_secret")
		mustGrant(t, client, first.addr, live["client_id"], live["client_secret"])
	})
	t.Run("shutdown_drains_an_in_flight_request", func(t *testing.T) {
		testGracefulDrain(t, first, client, shop)
	})

	// --- every later start ---
	second := startServe(t, serveConfig(t, e))
	t.Run("later_start_prints_no_secret", func(t *testing.T) {
		if firstSecret == "" {
			t.Skip("no secret from the first start")
		}
		if strings.Contains(second.out, firstSecret) {
			t.Fatalf("second start printed the secret again:\n%s", second.out)
		}
		if secretLine.MatchString(second.out) {
			t.Errorf("second start prints a client_secret line:\n%s", second.out)
		}
		if !strings.Contains(second.out, firstID) {
			t.Errorf("second start does not name the default client %s:\n%s", firstID, second.out)
		}
		mustGrant(t, client, second.addr, firstID, firstSecret)
	})
	if err := second.stop(t); err != nil {
		t.Fatalf("serve returned %v after a clean shutdown", err)
	}

	// --- a wrong encryption key refuses to start and changes nothing ---
	keyFile := filepath.Join(e.dataDir, "encryption.key")
	keyBefore, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	wrong := make([]byte, 32)
	rand.Read(wrong)
	t.Run("wrong_encryption_key_refuses_to_start", func(t *testing.T) {
		out, err := serveErr(t, serveConfig(t, e, "--encryption-key", hex.EncodeToString(wrong)))
		if err == nil {
			t.Fatalf("serve started with a wrong key: %q", out)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "encryption key") && !strings.Contains(err.Error(), "LATCH_ENCRYPTION_KEY") {
			t.Errorf("error %q does not mention the encryption key", err)
		}
		if strings.Contains(out, "client_secret") {
			t.Errorf("a refused start printed a secret: %q", out)
		}
	})
	t.Run("wrong_encryption_key_refuses_admin_commands", func(t *testing.T) {
		_, err := cli(t, "app", "create", "--name", "rekeyed", "--json", "--encryption-key", hex.EncodeToString(wrong))
		if err == nil {
			t.Fatal("app create succeeded with a wrong key")
		}
		if _, err := cli(t, "keys", "rotate", "--json", "--encryption-key", base64.StdEncoding.EncodeToString(wrong)); err == nil {
			t.Fatal("keys rotate succeeded with a wrong key")
		}
	})
	t.Run("original_key_still_works", func(t *testing.T) {
		keyAfter, err := os.ReadFile(keyFile)
		if err != nil || !bytes.Equal(keyAfter, keyBefore) {
			t.Fatalf("the key file changed: %v", err)
		}
		// The refused app create wrote nothing: the name is still free.
		out, err := cli(t, "app", "create", "--name", "rekeyed", "--json")
		if err != nil {
			t.Fatalf("app create after the refused one: %v", err)
		}
		decodeExactly(t, out, "app_id", "client_id", "client_secret")
		third := startServe(t, serveConfig(t, e, "--encryption-key", strings.TrimSpace(string(keyBefore))))
		mustGrant(t, client, third.addr, shop["client_id"], shop["client_secret"])
		if kids := publishedKIDs(t, client, third.addr); rotated != "" && (len(kids) == 0 || kids[0] != rotated) {
			t.Errorf("a refused keys rotate changed the keys: JWKS %v, want %s newest", kids, rotated)
		}
		if firstID != "" {
			mustGrant(t, client, third.addr, firstID, firstSecret)
		}
	})
}

// testGracefulDrain starts a token request whose body the server is waiting for, cancels
// serve's context, then completes the body: the request must still succeed and serve must
// return nil. The 100-continue handshake tells the test the handler is running.
func testGracefulDrain(t *testing.T, rs *running, client *http.Client, creds map[string]string) {
	// A keep-alive connection that is idle when shutdown begins is closed cleanly.
	mustGrant(t, client, rs.addr, creds["client_id"], creds["client_secret"])

	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {creds["client_id"]}, "client_secret": {creds["client_secret"]}}.Encode()
	pr, pw := io.Pipe()
	handlerReading := make(chan struct{})
	var once sync.Once
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { once.Do(func() { close(handlerReading) }) },
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+rs.addr+"/oidc/token", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Expect", "100-continue")
	req.ContentLength = int64(len(body))
	type result struct {
		status int
		token  string
		err    error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resc <- result{status: resp.StatusCode, token: out.AccessToken}
	}()
	select {
	case <-handlerReading:
	case r := <-resc:
		t.Fatalf("request ended before the handler read its body: %+v", r)
	case <-time.After(20 * time.Second):
		t.Fatal("no 100 Continue from the handler")
	}

	rs.cancel() // shutdown begins while the handler waits for the body
	go func() { // the rest of the body arrives after shutdown has begun
		io.WriteString(pw, body)
		pw.Close()
	}()
	defer pr.Close() // unblocks the writer if the server dropped the request
	var r result
	select {
	case r = <-resc:
	case <-time.After(20 * time.Second):
		t.Fatal("the in-flight request never finished")
	}
	if r.err != nil || r.status != 200 || r.token == "" {
		t.Fatalf("in-flight request during shutdown was not served: %+v", r)
	}
	select {
	case err := <-rs.done:
		rs.done = nil
		if err != nil {
			t.Fatalf("serve returned %v after a graceful shutdown, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return")
	}
	// The server is gone: a new request fails at once instead of hanging.
	_, err := client.PostForm("http://"+rs.addr+"/oidc/token", url.Values{})
	if err == nil {
		t.Fatal("a request after shutdown succeeded")
	}
}

func TestProductionModeRequiresEncryptionKey(t *testing.T) {
	cliEnv(t)
	dir := t.TempDir()
	t.Run("serve_command", func(t *testing.T) {
		_, err := runCLI(t, "serve", "--prod", "--data-dir", dir, "--addr", "127.0.0.1:0")
		if err == nil || !strings.Contains(err.Error(), "LATCH_ENCRYPTION_KEY") {
			t.Fatalf("err = %v, want one mentioning LATCH_ENCRYPTION_KEY", err)
		}
	})
	t.Run("serve_function", func(t *testing.T) {
		_, err := serveErr(t, serveConfig(t, engineSetup{storage: []string{"--data-dir", dir}}, "--prod"))
		if err == nil || !strings.Contains(err.Error(), "LATCH_ENCRYPTION_KEY") {
			t.Fatalf("err = %v, want one mentioning LATCH_ENCRYPTION_KEY", err)
		}
	})
	t.Run("env_variable", func(t *testing.T) {
		t.Setenv("LATCH_PROD", "1")
		_, err := runCLI(t, "app", "create", "--name", "x", "--json", "--data-dir", dir)
		if err == nil || !strings.Contains(err.Error(), "LATCH_ENCRYPTION_KEY") {
			t.Fatalf("err = %v, want one mentioning LATCH_ENCRYPTION_KEY", err)
		}
	})
	t.Run("no_key_file_is_generated", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(dir, "encryption.key")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("production mode wrote a key file: %v", err)
		}
	})
	t.Run("with_a_key_but_no_delivery_provider", func(t *testing.T) {
		key := make([]byte, 32)
		rand.Read(key)
		_, err := serveErr(t, serveConfig(t, engineSetup{storage: []string{"--data-dir", dir}}, "--prod", "--encryption-key", hex.EncodeToString(key)))
		if err == nil || !strings.Contains(err.Error(), "delivery provider") {
			t.Fatalf("err = %v, want one about the missing delivery provider", err)
		}
	})
}
