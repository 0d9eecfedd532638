package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sqliteSetup is the SQLite engine's CLI setup in a fresh data directory.
func sqliteSetup(t *testing.T) engineSetup {
	t.Helper()
	return engines()[0].setup(t)
}

// getJSON decodes the JSON object a GET of url answers.
func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// TestDevModeOnlyOnLoopback: without a delivery provider, `latch serve` on an address other
// machines reach refuses to start, saying why in one line; --dev (LATCH_DEV=1) forces it with a
// warning. The default issuer of a wildcard address is http://localhost:PORT.
func TestDevModeOnlyOnLoopback(t *testing.T) {
	cliEnv(t)
	e := sqliteSetup(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		t.Run("refused_"+addr, func(t *testing.T) {
			out, err := serveErr(t, serveConfig(t, e, "--addr", addr))
			if err == nil {
				t.Fatal("dev mode started on a wildcard address")
			}
			if msg := err.Error(); !strings.Contains(msg, "loopback") || !strings.Contains(msg, "--dev") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line saying why (loopback) and how to force it (--dev)", msg)
			}
			if strings.Contains(out, "client_secret") {
				t.Errorf("a refused start printed a secret: %q", out)
			}
		})
	}
	check := func(t *testing.T, rs *running) {
		t.Helper()
		_, port, _ := net.SplitHostPort(rs.addr)
		issuer := "http://localhost:" + port
		if !strings.Contains(rs.out, "WARNING") || !strings.Contains(rs.out, "--dev") {
			t.Errorf("forced dev mode prints no warning:\n%s", rs.out)
		}
		if !strings.Contains(rs.out, "issuer:    "+issuer+"\n") {
			t.Errorf("banner issuer is not %s:\n%s", issuer, rs.out)
		}
		local := "http://127.0.0.1:" + port
		if status, doc := getJSON(t, local+"/.well-known/openid-configuration"); status != 200 || doc["issuer"] != issuer {
			t.Errorf("discovery: %d issuer %v, want %s", status, doc["issuer"], issuer)
		}
		if status, _ := getJSON(t, local+"/healthz"); status != 200 {
			t.Errorf("healthz: %d", status)
		}
		resp, err := http.Get(local + "/dev/outbox.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("forced dev mode serves no outbox: %d", resp.StatusCode)
		}
	}
	t.Run("forced_with_--dev", func(t *testing.T) {
		check(t, startServe(t, serveConfig(t, sqliteSetup(t), "--addr", "0.0.0.0:0", "--dev")))
	})
	t.Run("forced_with_LATCH_DEV", func(t *testing.T) {
		t.Setenv("LATCH_DEV", "1")
		check(t, startServe(t, serveConfig(t, sqliteSetup(t), "--addr", "0.0.0.0:0")))
	})
}

// TestPprofHidesTheCommandLine: the command line may carry --encryption-key or --smtp-password,
// so the pprof server answers /debug/pprof/cmdline with a 404; the profiles are still served.
func TestPprofHidesTheCommandLine(t *testing.T) {
	srv := httptest.NewServer(pprofHandler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get("/debug/pprof/cmdline"); status != http.StatusNotFound || strings.Contains(body, os.Args[0]) {
		t.Errorf("/debug/pprof/cmdline = %d %q, want 404 without the command line", status, body)
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/symbol"} {
		if status, _ := get(p); status != http.StatusOK {
			t.Errorf("%s = %d, want 200", p, status)
		}
	}
}

// TestProdFirstClientSecretInAPrivateFile: with --prod the first start writes the default
// client's credentials to a file of mode 0600 in the data directory and prints its path, never
// the secret (stdout ends up in journald and log collectors).
func TestProdFirstClientSecretInAPrivateFile(t *testing.T) {
	cliEnv(t)
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := eng.setup(t)
			key := make([]byte, 32)
			rand.Read(key)
			prod := []string{"--prod", "--encryption-key", hex.EncodeToString(key), "--smtp-host", "127.0.0.1", "--smtp-port", "1",
				"--smtp-from", "latch@example.com", "--smtp-tls", "none"}
			first := startServe(t, serveConfig(t, e, prod...))
			path := filepath.Join(e.dataDir, "first-client.json")
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("no credentials file: %v\n%s", err, first.out)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", path, fi.Mode().Perm())
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var creds map[string]string
			if err := json.Unmarshal(raw, &creds); err != nil || creds["client_id"] == "" || creds["client_secret"] == "" || creds["app_id"] == "" {
				t.Fatalf("credentials file %q: %v", raw, err)
			}
			if strings.Contains(first.out, creds["client_secret"]) || secretLine.MatchString(first.out) {
				t.Errorf("the secret is on stdout:\n%s", first.out)
			}
			if !strings.Contains(first.out, path) || !strings.Contains(first.out, creds["client_id"]) {
				t.Errorf("stdout does not name the file %s and the client:\n%s", path, first.out)
			}
			mustGrant(t, http.DefaultClient, first.addr, creds["client_id"], creds["client_secret"])
			if err := first.stop(t); err != nil {
				t.Fatal(err)
			}

			later := startServe(t, serveConfig(t, e, prod...))
			if strings.Contains(later.out, creds["client_secret"]) || strings.Contains(later.out, path) {
				t.Errorf("a later start shows the secret or the file again:\n%s", later.out)
			}
			if again, _ := os.ReadFile(path); string(again) != string(raw) {
				t.Errorf("a later start rewrote %s", path)
			}
		})
	}
}
