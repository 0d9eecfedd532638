package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/store/storetest"
)

// benchStores runs b once per engine with a fresh store holding a tenant, an app and a client.
func benchStores(b *testing.B, fn func(b *testing.B, s store.Store)) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			s := storetest.Open(b, e.DSN(b))
			ctx := context.Background()
			now := time.Now()
			if _, _, err := s.EnsureTenant(ctx, store.Tenant{ID: "t", CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
			if err := s.CreateApp(ctx, store.App{ID: "a", TenantID: "t", Name: "bench", Settings: []byte(`{}`), CreatedAt: now},
				store.Client{ClientID: "c", AppID: "a", SecretHash: "h", CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
			fn(b, s)
		})
	}
}

// BenchmarkGetClient is the read every token request does when the cache is cold.
func BenchmarkGetClient(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetClient(context.Background(), "c"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkCreateUser is one small write transaction.
func BenchmarkCreateUser(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		var n atomic.Int64
		now := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				u := store.User{ID: fmt.Sprint("u", i), TenantID: "t", Email: fmt.Sprintf("u%d@bench.test", i), Status: "Active",
					Profile: []byte(`{}`), CreatedAt: now, UpdatedAt: now, StatusChangeAt: now}
				if err := s.CreateUser(context.Background(), u); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkIssueAndConsumeCode is the store work of one OTP login: issue (rate-limit count,
// retire, insert in one transaction), read the latest code, consume it atomically.
func BenchmarkIssueAndConsumeCode(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				i := n.Add(1)
				now := time.Now()
				ident := fmt.Sprint("user:", i)
				c := store.Code{ID: fmt.Sprint("code", i), AppID: "a", Method: "otp", Channel: "direct", Identifier: ident,
					CodeHash: "h", Payload: []byte(`{}`), MaxAttempts: 5, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
				if err := s.IssueCode(ctx, c, store.SendLimits{Key: c.Identifier, PerKey: []store.RateLimit{{Max: 5, Window: 15 * time.Minute}}}); err != nil {
					b.Fatal(err)
				}
				latest, _, err := s.LatestCode(ctx, "a", "otp", ident)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.ConsumeCode(ctx, latest.ID, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkLoginWrites is every write of one OTP login, as the server makes them: issue the
// code (rate-limit count, retire, insert), then use it up and save the session, its refresh
// token and the user's last_auth in one transaction. IDs and hashes are made as the server makes
// them: code and session ids ordered by time, hashes random (so their inserts land all over their
// indexes); on SQLite the transactions of the parallel callers share commits (group commit).
func BenchmarkLoginWrites(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		const users = 5000
		ids := benchUsers(b, s, users)
		var n atomic.Int64
		b.ResetTimer()
		b.SetParallelism(32) // as many logins in flight as the server has under `latch bench --concurrency 64`
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				uid := ids[int(n.Add(1))%users]
				now := time.Now()
				c := store.Code{ID: secret.NewTimeID(now), AppID: "a", UserID: uid, Method: "otp", Channel: "direct", Identifier: uid + "@bench.test",
					CodeHash: randomID(), Payload: []byte(`{}`), MaxAttempts: 5, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
				if err := s.IssueCode(ctx, c, store.SendLimits{Key: uid, PerKey: []store.RateLimit{{Max: 1000, Window: 15 * time.Minute}}}); err != nil {
					b.Fatal(err)
				}
				sess := store.Session{ID: secret.NewTimeID(now), AppID: "a", UserID: uid, ClientID: "c", AMR: []string{"otp"},
					AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
				rt := store.RefreshToken{Hash: randomID(), SessionID: sess.ID, ClientID: "c", Payload: []byte(`{}`),
					CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
				if err := s.SaveLogin(ctx, sess, true, rt, now, store.UseCode{ID: c.ID},
					store.UseFailures{AppID: "a", Method: "otp", Identifier: c.Identifier, Policy: store.FailurePolicy{Max: 5, Window: 15 * time.Minute}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// benchUsers creates n users with random ids, email ID@bench.test, and returns their ids.
func benchUsers(b *testing.B, s store.Store, n int) []string {
	now := time.Now()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = randomID()
		u := store.User{ID: ids[i], TenantID: "t", Email: ids[i] + "@bench.test", Status: "Active",
			Profile: []byte(`{}`), CreatedAt: now, UpdatedAt: now, StatusChangeAt: now}
		if err := s.CreateUser(context.Background(), u); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// BenchmarkLoginCheck is the read an OTP authenticate makes before its write: the user by email,
// their newest code and the identifier's failures. one_read is UserLatestCode, what the server
// does; two_reads is the user and then LatestCode, what it did before, kept for comparison.
func BenchmarkLoginCheck(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		const users = 2000
		now := time.Now()
		ids := benchUsers(b, s, users)
		for i := range ids {
			c := store.Code{ID: secret.NewTimeID(now), AppID: "a", UserID: ids[i], Method: "otp", Channel: "direct",
				Identifier: "user:" + ids[i], CodeHash: randomID(), Payload: []byte(`{}`), MaxAttempts: 5, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.IssueCode(ctx, c, store.SendLimits{Key: c.Identifier, PerKey: []store.RateLimit{{Max: 1000, Window: 15 * time.Minute}}}); err != nil {
				b.Fatal(err)
			}
		}
		for _, v := range []struct {
			name  string
			check func(email string) (string, error)
		}{
			{"one_read", func(email string) (string, error) {
				_, c, _, err := s.UserLatestCode(ctx, store.UserByEmail, email, "a", "otp", "user:")
				return c.ID, err
			}},
			{"two_reads", func(email string) (string, error) {
				u, err := s.GetUserByEmail(ctx, email)
				if err != nil {
					return "", err
				}
				c, _, err := s.LatestCode(ctx, "a", "otp", "user:"+u.ID)
				return c.ID, err
			}},
		} {
			b.Run(v.name, func(b *testing.B) {
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if id, err := v.check(ids[int(n.Add(1))%users] + "@bench.test"); err != nil || id == "" {
							b.Fatalf("check: %q %v", id, err)
						}
					}
				})
			})
		}
	})
}

// BenchmarkBearerUserCheck is the read the bearer check of every user-token request makes:
// session_only is SessionLive, what it was before access tokens could be revoked; jti is
// AccessTokenLive, what it is now (the session, and the jti's revocation when the session has had
// one, in one statement), for sessions without a revocation (the usual case) and with one. 2,000
// live sessions, half of them with a revoked token.
func BenchmarkBearerUserCheck(b *testing.B) {
	benchStores(b, func(b *testing.B, s store.Store) {
		ctx := context.Background()
		const sessions = 2000
		now := time.Now()
		ids := benchUsers(b, s, sessions)
		sids := make([]string, sessions)
		for i, uid := range ids {
			sids[i] = secret.NewTimeID(now)
			if err := s.SaveLogin(ctx, store.Session{ID: sids[i], AppID: "a", UserID: uid, ClientID: "c", AMR: []string{"eotp"},
				AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, true, store.RefreshToken{}, now); err != nil {
				b.Fatal(err)
			}
			if i%2 == 1 {
				if err := s.RevokeAccessToken(ctx, randomID(), sids[i], now.Add(time.Hour), now); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, v := range []struct {
			name    string
			flagged int // 0: sessions without a revocation, 1: with one
			check   func(sid string) (bool, error)
		}{
			{"session_only", 0, func(sid string) (bool, error) { return s.SessionLive(ctx, sid, now) }},
			{"jti_no_revocation", 0, func(sid string) (bool, error) { return s.AccessTokenLive(ctx, sid, "jti-not-revoked", now) }},
			{"jti_session_with_revocation", 1, func(sid string) (bool, error) { return s.AccessTokenLive(ctx, sid, "jti-not-revoked", now) }},
		} {
			b.Run(v.name, func(b *testing.B) {
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := (2*int(n.Add(1)) + v.flagged) % sessions
						if ok, err := v.check(sids[i]); err != nil || !ok {
							b.Fatalf("check: %v %v", ok, err)
						}
					}
				})
			})
		}
	})
}
