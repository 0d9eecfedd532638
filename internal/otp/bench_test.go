package otp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/latch-auth/latch/internal/latchtest"
	"github.com/latch-auth/latch/internal/store/storetest"
	"github.com/latch-auth/latch/internal/user"
)

// BenchmarkOTPLogin measures whole backend OTP logins (direct send + authenticate, both over HTTP
// to an in-process server) on SQLite, from parallel clients. Each user logs in at most 4 times,
// under the send limit of 5 per 15 minutes, so no request is ever rate limited. Users are created
// through the service before the timer starts.
func BenchmarkOTPLogin(b *testing.B) {
	const loginsPerUser = 4
	s := latchtest.Start(b, storetest.Engines()[0].DSN(b), latchtest.Options{})
	token := s.ClientToken(b)
	ctx := context.Background()
	// Each goroutine logs one user in at a time, so no send replaces a code another is using.
	emails := make([]string, b.N/loginsPerUser+runtime.GOMAXPROCS(0)+1)
	for i := range emails {
		e := fmt.Sprintf("bench%d@example.com", i)
		if _, err := s.Users.Create(ctx, user.Input{Email: &e}); err != nil {
			b.Fatal(err)
		}
		emails[i] = e
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	var next, failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var email string
		for n := 0; pb.Next(); n++ {
			if n%loginsPerUser == 0 {
				email = emails[next.Add(1)-1]
			}
			sent := postRaw(client, s.URL+pathSend, token, map[string]any{"channel": "direct", "identifier_type": "email", "identifier": email})
			var code struct {
				Code string `json:"code"`
			}
			if sent.err != nil || sent.status != http.StatusOK || json.Unmarshal(sent.body, &code) != nil {
				if failed.Add(1) == 1 {
					b.Errorf("send: %d %s %v", sent.status, sent.body, sent.err)
				}
				continue
			}
			auth := postRaw(client, s.URL+pathAuth, token, map[string]any{"identifier_type": "email", "identifier": email, "passcode": code.Code})
			if auth.err != nil || auth.status != http.StatusOK {
				if failed.Add(1) == 1 {
					b.Errorf("authenticate: %d %s %v", auth.status, auth.body, auth.err)
				}
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
