package otp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// answer is one HTTP answer collected off the test goroutine.
type answer struct {
	status int
	code   string // error_code
	body   []byte
	err    error
}

// postRaw posts a JSON body with a bearer token; safe to call from any goroutine.
func postRaw(client *http.Client, url, bearer string, body any) answer {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var e struct {
		Code any `json:"error_code"`
	}
	json.Unmarshal(b, &e)
	code := ""
	if e.Code != nil {
		code = fmt.Sprint(e.Code)
	}
	return answer{status: resp.StatusCode, code: code, body: b, err: err}
}

// target is where one of the racing requests goes: a URL and the client token valid there.
type target struct{ url, bearer string }

// race fires n requests at once, request i at targets[i%len(targets)], and returns the answers.
func race(n int, targets []target, body any) []answer {
	out := make([]answer, n)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			tg := targets[i%len(targets)]
			out[i] = postRaw(client, tg.url, tg.bearer, body)
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	return out
}

// exactlyOneWinner checks that one answer is a 200 and every other one is loser (status, code).
// It returns the winner's body.
func exactlyOneWinner(t *testing.T, answers []answer, loserStatus int, loserCode string) []byte {
	t.Helper()
	var winner []byte
	tally := map[string]int{}
	for _, a := range answers {
		if a.err != nil {
			t.Fatalf("request failed: %v", a.err)
		}
		tally[fmt.Sprintf("%d %s", a.status, a.code)]++
		if a.status == http.StatusOK {
			winner = a.body
		}
	}
	keys := make([]string, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := map[string]int{"200 ": 1, fmt.Sprintf("%d %s", loserStatus, loserCode): len(answers) - 1}
	if len(tally) != len(want) || tally["200 "] != 1 || tally[fmt.Sprintf("%d %s", loserStatus, loserCode)] != len(answers)-1 {
		t.Fatalf("answers %v, want %v", tally, want)
	}
	return winner
}

// nodes starts two Latch nodes on one database of engine e, each with its own connection pool
// (like two `latch serve` processes), sharing the encryption key. The second node's client token
// is for the first node's client (each test node has its own issuer, so tokens do not cross).
func nodes(t *testing.T, e storetest.Engine) (*api, *api) {
	t.Helper()
	dsn := e.DSN(t)
	first := start(t, e, latchtest.Options{Store: storetest.Open(t, dsn)})
	s := latchtest.Start(t, "", latchtest.Options{Store: storetest.Open(t, dsn), Key: first.Key})
	s.ClientID, s.ClientSecret = first.ClientID, first.ClientSecret
	return first, &api{Stack: s, token: s.ClientToken(t)}
}

// TestConcurrentUseOfOneSecret: of many concurrent requests presenting one OTP or one refresh
// token, exactly one succeeds, on one node and across two nodes sharing the database.
func TestConcurrentUseOfOneSecret(t *testing.T) {
	eachEngine(t, func(t *testing.T, e storetest.Engine) {
		a, b := nodes(t, e)
		for _, tc := range []struct {
			name  string
			nodes []*api
		}{
			{"one_node", []*api{a}},
			{"two_nodes", []*api{a, b}},
		} {
			targets := func(path string) []target {
				var out []target
				for _, n := range tc.nodes {
					out = append(out, target{n.URL + path, n.token})
				}
				return out
			}
			t.Run("otp_"+tc.name, func(t *testing.T) {
				p := a.newPerson(t)
				code := a.directCode(t, p.email)
				exactlyOneWinner(t, race(20, targets(pathAuth), authBody(p, code, nil)), 400, "auth_invalid_credentials")
				// The losers were not counted as failed guesses: the user is not locked out.
				a.login(t, p.email, a.directCode(t, p.email), nil)
			})
			t.Run("refresh_"+tc.name, func(t *testing.T) {
				p := a.newPerson(t)
				rt := a.login(t, p.email, a.directCode(t, p.email), nil)["refresh_token"].(string)
				winner := exactlyOneWinner(t, race(10, targets(pathRefresh), map[string]any{"refresh_token": rt}), 400, "invalid_grant")
				// Every loser presented a token that had just been rotated: reuse detection ended
				// the session, so even the winner's new refresh token is refused.
				var w struct {
					RefreshToken string `json:"refresh_token"`
				}
				json.Unmarshal(winner, &w)
				wantError(t, a.post(t, pathRefresh, map[string]any{"refresh_token": w.RefreshToken}), 400, "invalid_grant", "Invalid refresh token")
			})
		}
	})
}
