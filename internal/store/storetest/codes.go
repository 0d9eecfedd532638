package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// Conformance tests of store.Codes (one-time codes, send limits, lockouts) and store.Sessions
// (sessions and refresh-token rotation).

// newCode is an OTP code of identifier "user:u1" created at `at`, living 5 minutes. It is marked
// ByHash so the cases can inspect it with FindCodeByHash; testCodesByHashOnlyWhenMarked covers
// codes that are not.
func newCode(id, hash string, at time.Time) store.Code {
	return store.Code{ID: id, AppID: "app1", UserID: "u1", Method: "otp", Channel: "email", Identifier: "user:u1",
		CodeHash: hash, ByHash: true, Payload: []byte(`{"channel":"email"}`), MaxAttempts: 5, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
}

var noLimit = store.SendLimits{}

func mustIssue(t *testing.T, s store.Store, c store.Code, l store.SendLimits) {
	t.Helper()
	if err := s.IssueCode(context.Background(), c, l); err != nil {
		t.Fatalf("IssueCode %s: %v", c.ID, err)
	}
}

func testCodesLatestRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, _, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no code yet: %v", err)
	}
	c := newCode("c1", "h1", t0)
	c.RequestID = "req1"
	mustIssue(t, s, c, noLimit)
	anon := newCode("c2", "h2", t0)
	anon.UserID, anon.Identifier, anon.Channel = "", "email:new@example.com", "direct"
	mustIssue(t, s, anon, noLimit)

	got, _, err := s.LatestCode(ctx, "app1", "otp", "user:u1")
	want := c
	want.Payload = []byte(`{"channel":"email"}`)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("LatestCode = %+v, %v\nwant %+v", got, err, want)
	}
	if got, _, err := s.LatestCode(ctx, "app1", "otp", "email:new@example.com"); err != nil || got.ID != "c2" || got.UserID != "" {
		t.Fatalf("code without a user: %+v %v", got, err)
	}
	for _, miss := range [][3]string{{"app2", "otp", "user:u1"}, {"app1", "link", "user:u1"}, {"app1", "otp", "user:u2"}} {
		if _, _, err := s.LatestCode(ctx, miss[0], miss[1], miss[2]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("LatestCode%v: %v", miss, err)
		}
	}
	if got, err := s.FindCodeByHash(ctx, "otp", "h1"); err != nil || got.ID != "c1" || !got.UsedAt.IsZero() {
		t.Fatalf("FindCodeByHash: %+v %v", got, err)
	}
	if _, err := s.FindCodeByHash(ctx, "link", "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindCodeByHash of another method: %v", err)
	}
}

// testCodesUserLatestCode: UserLatestCode is the user found by each column, with what LatestCode
// answers for keyPrefix+user.ID: no code and no failures, then the failure state alone, then the
// newest unused code of that app and method with the failure state.
func testCodesUserLatestCode(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	u := mustCreateUser(t, s, newUser(tn, "u1", "ann@example.com", "+15551234567", "ann", t0))
	mustCreateUser(t, s, newUser(tn, "u2", "bob@example.com", "", "", t0))
	find := func(by store.UserBy, value string) (store.User, store.Code, store.Lockout, error) {
		return s.UserLatestCode(ctx, by, value, "app1", "otp", "user:")
	}
	if _, _, _, err := find(store.UserByEmail, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	got, c, l, err := find(store.UserByEmail, "ann@example.com")
	if err != nil || got.ID != "u1" || got.Phone != "+15551234567" || !reflect.DeepEqual(c, store.Code{}) || l != (store.Lockout{}) {
		t.Fatalf("user without code = %+v, %+v, %+v, %v", got, c, l, err)
	}
	p := store.FailurePolicy{Max: 5, Window: 10 * time.Minute, LockFor: 15 * time.Minute}
	if _, err := s.RecordFailure(ctx, "app1", "otp", "user:u1", t0, p); err != nil {
		t.Fatal(err)
	}
	if _, c, l, err := find(store.UserByPhone, "+15551234567"); err != nil || c.ID != "" || l.Failures != 1 {
		t.Fatalf("failures without a code = %+v, %+v, %v", c, l, err)
	}
	older := newCode("c1", "h1", t0)
	mustIssue(t, s, older, noLimit)
	newer := newCode("c2", "h2", t0.Add(time.Second))
	newer.ByHash = false
	mustIssue(t, s, newer, noLimit) // retires c1
	others := []store.Code{newCode("o1", "h3", t0.Add(2*time.Second)), newCode("o2", "h4", t0.Add(2*time.Second)),
		newCode("o3", "h5", t0.Add(2*time.Second))}
	others[0].AppID = "app2"
	others[1].Method = "link"
	others[2].Identifier, others[2].UserID = "user:u2", "u2"
	for _, o := range others {
		mustIssue(t, s, o, noLimit)
	}
	wantCode, wantLock, err := s.LatestCode(ctx, "app1", "otp", "user:u1")
	if err != nil || wantCode.ID != "c2" {
		t.Fatalf("LatestCode = %+v, %v", wantCode, err)
	}
	for _, by := range []struct {
		by    store.UserBy
		value string
	}{{store.UserByID, "u1"}, {store.UserByEmail, "ann@example.com"}, {store.UserByPhone, "+15551234567"}, {store.UserByUsername, "ann"}} {
		got, c, l, err := find(by.by, by.value)
		if err != nil || !reflect.DeepEqual(got, u) || !reflect.DeepEqual(c, wantCode) || l != wantLock {
			t.Fatalf("by %s = %+v, %+v, %+v, %v\nwant %+v, %+v, %+v", by.by, got, c, l, err, u, wantCode, wantLock)
		}
	}
	if _, c, _, err := s.UserLatestCode(ctx, store.UserByEmail, "bob@example.com", "app1", "otp", "user:"); err != nil || c.ID != "o3" {
		t.Fatalf("the other user's code = %+v, %v", c, err)
	}
	if _, err := s.ConsumeCode(ctx, "c2", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, c, l, err := find(store.UserByEmail, "ann@example.com"); err != nil || c.ID != "" || l.Failures != 1 {
		t.Fatalf("after the code is used = %+v, %+v, %v; want no code", c, l, err)
	}
	if _, _, _, err := s.UserLatestCode(ctx, "status", "Active", "app1", "otp", "user:"); err == nil {
		t.Fatal("a column users are not found by was accepted")
	}
}

// testCodesFindByHashWithUser: FindCodeByHashWithUser is FindCodeByHash with the code's user, and
// a zero user when the code has none or names a user that does not exist.
func testCodesFindByHashWithUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(seedTenant(t, s), "u1", "ann@example.com", "+15551234567", "ann", t0))
	for _, c := range []struct{ id, userID string }{{"l1", "u1"}, {"l2", ""}, {"l3", "ghost"}} {
		l := newCode(c.id, "h"+c.id, t0)
		l.Method, l.UserID, l.Identifier = "link", c.userID, "key:"+c.id
		mustIssue(t, s, l, noLimit)
	}
	for _, c := range []struct {
		hash     string
		wantUser store.User
	}{{"hl1", u}, {"hl2", store.User{}}, {"hl3", store.User{}}} {
		want, err := s.FindCodeByHash(ctx, "link", c.hash)
		if err != nil {
			t.Fatal(err)
		}
		code, got, err := s.FindCodeByHashWithUser(ctx, "link", c.hash)
		if err != nil || !reflect.DeepEqual(code, want) || !reflect.DeepEqual(got, c.wantUser) {
			t.Fatalf("%s = %+v, %+v, %v\nwant %+v, %+v", c.hash, code, got, err, want, c.wantUser)
		}
	}
	if _, _, err := s.FindCodeByHashWithUser(ctx, "otp", "hl1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another method: %v", err)
	}
	numeric := newCode("c1", "hc1", t0)
	numeric.ByHash = false
	mustIssue(t, s, numeric, noLimit)
	if _, _, err := s.FindCodeByHashWithUser(ctx, "otp", "hc1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a code not marked ByHash: %v", err)
	}
}

// testCodesByHashOnlyWhenMarked: a code issued without ByHash (a numeric OTP, found by its
// identifier) is neither found nor consumed by its hash, and ByHash round-trips both ways.
func testCodesByHashOnlyWhenMarked(t *testing.T, s store.Store) {
	ctx := context.Background()
	numeric := newCode("c1", "h1", t0)
	numeric.ByHash = false
	mustIssue(t, s, numeric, noLimit)
	if _, err := s.FindCodeByHash(ctx, "otp", "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindCodeByHash of a code not marked ByHash: %v", err)
	}
	if _, err := s.ConsumeCodeByHash(ctx, "otp", "h1", t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("ConsumeCodeByHash of a code not marked ByHash: %v", err)
	}
	got, _, err := s.LatestCode(ctx, "app1", "otp", "user:u1")
	if err != nil || got.ID != "c1" || got.ByHash || !got.UsedAt.IsZero() {
		t.Fatalf("LatestCode after the by-hash attempts = %+v, %v; want c1 unused, ByHash false", got, err)
	}
	link := newCode("l1", "hl", t0)
	link.Method = "link"
	mustIssue(t, s, link, noLimit)
	if got, _, err := s.LatestCode(ctx, "app1", "link", "user:u1"); err != nil || !got.ByHash {
		t.Fatalf("LatestCode of a by-hash code = %+v, %v; want ByHash true", got, err)
	}
	if got, err := s.ConsumeCodeByHash(ctx, "link", "hl", t0); err != nil || got.ID != "l1" || !got.ByHash {
		t.Fatalf("ConsumeCodeByHash = %+v, %v", got, err)
	}
}

// testCodesLockedIdentifier: LatestCode reports the identifier's failure state with its code,
// and without one; IssueCode refuses a locked identifier and writes nothing, until the lock ends.
func testCodesLockedIdentifier(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := store.FailurePolicy{Max: 2, Window: 10 * time.Minute, LockFor: 15 * time.Minute}
	mustIssue(t, s, newCode("c1", "h1", t0), noLimit)
	if _, l, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); err != nil || l != (store.Lockout{}) {
		t.Fatalf("no failures yet: %+v %v", l, err)
	}
	if _, err := s.RecordFailure(ctx, "app1", "otp", "user:u1", t0, p); err != nil {
		t.Fatal(err)
	}
	if got, l, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); err != nil || got.ID != "c1" || l.Failures != 1 || !l.LockedUntil.IsZero() {
		t.Fatalf("one failure: %q %+v %v", got.ID, l, err)
	}
	lockAt := t0.Add(time.Minute)
	if _, err := s.RecordFailure(ctx, "app1", "otp", "user:u1", lockAt, p); err != nil {
		t.Fatal(err)
	}
	until := lockAt.Add(15 * time.Minute)
	if got, l, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); err != nil || got.ID != "c1" || l.Failures != 2 || !l.LockedUntil.Equal(until) {
		t.Fatalf("locked: %q %+v %v", got.ID, l, err)
	}
	// Another identifier's lock is not joined in.
	other := newCode("o1", "ho", t0)
	other.Identifier = "user:u2"
	mustIssue(t, s, other, noLimit)
	if _, l, err := s.LatestCode(ctx, "app1", "otp", "user:u2"); err != nil || l != (store.Lockout{}) {
		t.Fatalf("user:u2 got user:u1's lock: %+v %v", l, err)
	}

	if err := s.IssueCode(ctx, newCode("c2", "h2", lockAt.Add(time.Minute)), noLimit); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("issue to a locked identifier: %v, want ErrLocked", err)
	}
	if _, err := s.FindCodeByHash(ctx, "otp", "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused send was stored: %v", err)
	}
	if got, _, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); err != nil || got.ID != "c1" {
		t.Fatalf("a refused send retired the live code: %q %v", got.ID, err)
	}
	// Without a live code the failure state still comes back, with ErrNotFound.
	if _, err := s.ConsumeCode(ctx, "c1", lockAt); err != nil {
		t.Fatal(err)
	}
	if _, l, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); !errors.Is(err, store.ErrNotFound) || !l.LockedUntil.Equal(until) {
		t.Fatalf("no live code: %+v %v", l, err)
	}
	// Once the lock has ended, sends go through again.
	mustIssue(t, s, newCode("c3", "h3", until), noLimit)
}

func testCodesIssueRetiresPrevious(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustIssue(t, s, newCode("c1", "h1", t0), noLimit)
	other := newCode("l1", "hl", t0)
	other.Method = "link"
	mustIssue(t, s, other, noLimit)
	sms := newCode("c2", "h2", t0.Add(time.Second))
	sms.Channel = "sms"
	mustIssue(t, s, sms, noLimit)

	if got, _, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); err != nil || got.ID != "c2" {
		t.Fatalf("latest after a new send: %+v %v", got, err)
	}
	old, err := s.FindCodeByHash(ctx, "otp", "h1")
	if err != nil || !old.UsedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("the replaced code must be retired at the new send's time: %+v %v", old, err)
	}
	if _, err := s.ConsumeCode(ctx, "c1", t0.Add(2*time.Second)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("consume a replaced code: %v", err)
	}
	// Another method's code of the same identifier is untouched.
	if got, err := s.FindCodeByHash(ctx, "link", "hl"); err != nil || !got.UsedAt.IsZero() {
		t.Fatalf("link code retired by an OTP send: %+v %v", got, err)
	}
}

// perKey is a send limit of max sends of u1's key within window.
func perKey(max int, window time.Duration) store.SendLimits {
	return store.SendLimits{Key: "user:u1", PerKey: []store.RateLimit{{Max: max, Window: window}}}
}

// testCodesIssueRateLimit: a key's sends count together whatever the method and channel; over the
// limit a send is refused with the oldest send of the window, stores nothing and leaves the live
// code usable; other keys and apps have their own count; the window slides.
func testCodesIssueRateLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	limit := perKey(3, 15*time.Minute)
	sms := newCode("c1", "h1", t0.Add(time.Minute))
	sms.Channel = "sms"
	link := newCode("c2", "h2", t0.Add(2*time.Minute))
	link.Method, link.Identifier = "link", "client:c9|email:a@example.com"
	mustIssue(t, s, newCode("c0", "h0", t0), limit)
	mustIssue(t, s, sms, limit)
	mustIssue(t, s, link, limit)
	now := t0.Add(5 * time.Minute)
	err := s.IssueCode(ctx, newCode("c3", "h3", now), limit)
	var rl *store.RateLimitedError
	if !errors.As(err, &rl) || !rl.Oldest.Equal(t0) || rl.Window != 15*time.Minute || rl.PerApp {
		t.Fatalf("4th send of the key: %v (%+v), want RateLimitedError with the window's oldest send (t0)", err, rl)
	}
	if _, err := s.FindCodeByHash(ctx, "otp", "h3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused send was stored: %v", err)
	}
	if got, _, _ := s.LatestCode(ctx, "app1", "otp", "user:u1"); got.ID != "c1" {
		t.Fatalf("a refused send retired the live code: latest %q", got.ID)
	}
	// Other keys and apps have their own count.
	other := perKey(3, 15*time.Minute)
	other.Key = "email:b@example.com"
	mustIssue(t, s, newCode("o1", "ho1", now), other)
	app2 := newCode("a2", "ha", now)
	app2.AppID = "app2"
	mustIssue(t, s, app2, limit)
	// The window slides: once the first send is 15 minutes old, one more is allowed.
	if err := s.IssueCode(ctx, newCode("c4", "h4", t0.Add(15*time.Minute-time.Millisecond)), limit); !errors.As(err, &rl) {
		t.Fatalf("just inside the window: %v", err)
	}
	mustIssue(t, s, newCode("c5", "h5", t0.Add(15*time.Minute)), limit)
	if err := s.IssueCode(ctx, newCode("c6", "h6", t0.Add(15*time.Minute)), limit); !errors.As(err, &rl) || !rl.Oldest.Equal(t0.Add(time.Minute)) {
		t.Fatalf("the window is full again: %v", err)
	}
	// A zero limit counts nothing.
	mustIssue(t, s, newCode("c7", "h7", t0.Add(15*time.Minute)), noLimit)
}

// testCodesDeleteWithdrawsTheSend: a code withdrawn after a failed delivery stops counting toward
// its key's limit and its app's ceiling, and the code its issue retired is usable again.
func testCodesDeleteWithdrawsTheSend(t *testing.T, s store.Store) {
	ctx := context.Background()
	limits := store.SendLimits{Key: "user:u1", PerKey: []store.RateLimit{{Max: 2, Window: 15 * time.Minute}}, PerApp: store.RateLimit{Max: 2, Window: time.Hour}}
	mustIssue(t, s, newCode("c1", "h1", t0), limits)
	mustIssue(t, s, newCode("c2", "h2", t0.Add(time.Second)), limits)
	if err := s.DeleteCode(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); err != nil || got.ID != "c1" {
		t.Fatalf("after withdrawing c2 the latest code is %q (%v), want c1 usable again", got.ID, err)
	}
	mustIssue(t, s, newCode("c3", "h3", t0.Add(2*time.Second)), limits) // fits both limits again
	var rl *store.RateLimitedError
	if err := s.IssueCode(ctx, newCode("c4", "h4", t0.Add(3*time.Second)), limits); !errors.As(err, &rl) {
		t.Fatalf("third send: %v, want the limits to count c1 and c3", err)
	}
}

// testCodesIssueTwoWindows: with 3 in 15 minutes and 5 in an hour, the longer window refuses
// once the short one has room again, and names its own oldest send.
func testCodesIssueTwoWindows(t *testing.T, s store.Store) {
	ctx := context.Background()
	limit := store.SendLimits{Key: "user:u1", PerKey: []store.RateLimit{{Max: 3, Window: 15 * time.Minute}, {Max: 5, Window: time.Hour}}}
	for i, at := range []time.Duration{0, 1, 2, 20, 21} {
		mustIssue(t, s, newCode(fmt.Sprint("c", i), fmt.Sprint("h", i), t0.Add(at*time.Minute)), limit)
	}
	var rl *store.RateLimitedError
	if err := s.IssueCode(ctx, newCode("c9", "h9", t0.Add(40*time.Minute)), limit); !errors.As(err, &rl) || !rl.Oldest.Equal(t0) || rl.Window != time.Hour {
		t.Fatalf("6th send within the hour: %v (%+v), want the hour's limit", err, rl)
	}
	mustIssue(t, s, newCode("c10", "h10", t0.Add(time.Hour)), limit)
}

// testCodesIssueAppCeiling: an application's delivered sends are capped per window, across keys;
// a refused send stores nothing; the next window starts afresh; a zero PerApp counts nothing.
func testCodesIssueAppCeiling(t *testing.T, s store.Store) {
	ctx := context.Background()
	start := t0.Truncate(time.Minute)
	ceiling := func(key string) store.SendLimits {
		return store.SendLimits{Key: key, PerKey: []store.RateLimit{{Max: 5, Window: 15 * time.Minute}}, PerApp: store.RateLimit{Max: 3, Window: time.Minute}}
	}
	for i := range 3 {
		c := newCode(fmt.Sprint("c", i), fmt.Sprint("h", i), start.Add(time.Duration(i)*time.Second))
		c.Identifier = fmt.Sprint("user:x", i)
		mustIssue(t, s, c, ceiling(c.Identifier))
	}
	refused := newCode("c3", "h3", start.Add(59*time.Second))
	refused.Identifier = "user:x3"
	var rl *store.RateLimitedError
	if err := s.IssueCode(ctx, refused, ceiling("user:x3")); !errors.As(err, &rl) || !rl.PerApp || !rl.Oldest.Equal(start) || rl.Window != time.Minute {
		t.Fatalf("4th delivered send of the app in the minute: %v (%+v)", err, rl)
	}
	if _, err := s.FindCodeByHash(ctx, "otp", "h3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused send was stored: %v", err)
	}
	direct := refused
	direct.ID, direct.CodeHash = "d3", "hd3"
	mustIssue(t, s, direct, store.SendLimits{Key: "user:x3", PerKey: []store.RateLimit{{Max: 5, Window: 15 * time.Minute}}})
	next := refused
	next.CreatedAt = start.Add(time.Minute)
	mustIssue(t, s, next, ceiling("user:x3"))
	// The refused send did not count toward the key either: x3 has two sends (direct, next).
	for i := range 4 {
		c := newCode(fmt.Sprint("k", i), fmt.Sprint("hk", i), start.Add(2*time.Minute))
		c.Identifier = "user:x3"
		err := s.IssueCode(ctx, c, store.SendLimits{Key: "user:x3", PerKey: []store.RateLimit{{Max: 5, Window: 15 * time.Minute}}})
		if (i < 3) != (err == nil) {
			t.Fatalf("send %d of x3 after 2: %v", i+3, err)
		}
	}
}

func testCodesIssuePrunes(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustIssue(t, s, newCode("old", "h-old", t0), noLimit)
	keep := newCode("other", "h-other", t0)
	keep.Identifier = "user:u2"
	mustIssue(t, s, keep, noLimit)
	mustIssue(t, s, newCode("mid", "h-mid", t0.Add(time.Hour)), noLimit)
	mustIssue(t, s, newCode("new", "h-new", t0.Add(24*time.Hour+time.Millisecond)), perKey(5, 15*time.Minute))
	if _, err := s.FindCodeByHash(ctx, "otp", "h-old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a code older than a day was kept: %v", err)
	}
	if _, err := s.FindCodeByHash(ctx, "otp", "h-mid"); err != nil {
		t.Fatalf("a code younger than a day was pruned: %v", err)
	}
	if _, err := s.FindCodeByHash(ctx, "otp", "h-other"); err != nil {
		t.Fatalf("another identifier's code was pruned: %v", err)
	}
}

func testCodesConsume(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustIssue(t, s, newCode("c1", "h1", t0), noLimit)
	if _, err := s.ConsumeCode(ctx, "c1", t0.Add(5*time.Minute)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("consume at expiry: %v", err)
	}
	now := t0.Add(5*time.Minute - time.Millisecond)
	got, err := s.ConsumeCode(ctx, "c1", now)
	if err != nil || got.ID != "c1" || !got.UsedAt.Equal(now) || string(got.Payload) != `{"channel":"email"}` {
		t.Fatalf("first consume: %+v %v", got, err)
	}
	if _, err := s.ConsumeCode(ctx, "c1", now); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second consume: %v", err)
	}
	if _, _, err := s.LatestCode(ctx, "app1", "otp", "user:u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a used code is still the latest: %v", err)
	}
	if _, err := s.ConsumeCode(ctx, "missing", now); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("consume unknown: %v", err)
	}

	// The attempt limit: a code with max_attempts failures can no longer be used.
	mustIssue(t, s, newCode("c2", "h2", t0), noLimit)
	for i := 1; i <= 5; i++ {
		n, err := s.RecordCodeFailure(ctx, "c2")
		if err != nil || n != i {
			t.Fatalf("RecordCodeFailure %d = %d, %v", i, n, err)
		}
		if i == 4 {
			if got, _, _ := s.LatestCode(ctx, "app1", "otp", "user:u1"); got.Attempts != 4 {
				t.Fatalf("attempts = %d", got.Attempts)
			}
		}
	}
	if _, err := s.ConsumeCode(ctx, "c2", t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("consume after max attempts: %v", err)
	}
	if _, err := s.RecordCodeFailure(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordCodeFailure unknown: %v", err)
	}
	// Four failures leave the code usable.
	mustIssue(t, s, newCode("c3", "h3", t0), noLimit)
	for range 4 {
		s.RecordCodeFailure(ctx, "c3")
	}
	if _, err := s.ConsumeCode(ctx, "c3", t0); err != nil {
		t.Fatalf("consume after 4 failures: %v", err)
	}
}

func testCodesConsumeConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	for round := range 3 {
		id := fmt.Sprintf("c%d", round)
		mustIssue(t, s, newCode(id, "h"+id, t0), noLimit)
		link := newCode("l"+id, "hl"+id, t0)
		link.Method = "link"
		mustIssue(t, s, link, noLimit)
		for _, consume := range []func() error{
			func() error { _, err := s.ConsumeCode(ctx, id, t0); return err },
			func() error { _, err := s.ConsumeCodeByHash(ctx, "link", "hl"+id, t0); return err },
		} {
			r := concurrently(20, is(store.ErrUsed), func(int) error { return consume() })
			if r.ok != 1 || r.refused != 19 || len(r.other) > 0 {
				t.Fatalf("round %d: %d wins, %d refused, errors %v; want exactly one win", round, r.ok, r.refused, r.other)
			}
		}
	}
}

func testCodesConsumeByHash(t *testing.T, s store.Store) {
	ctx := context.Background()
	l := newCode("l1", "hl", t0)
	l.Method, l.Identifier = "link", "user:u1"
	l.ExpiresAt = t0.Add(10 * time.Minute)
	mustIssue(t, s, l, noLimit)
	if _, err := s.ConsumeCodeByHash(ctx, "otp", "hl", t0); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("consume by hash under another method: %v", err)
	}
	if _, err := s.ConsumeCodeByHash(ctx, "link", "hl", t0.Add(10*time.Minute)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("consume by hash at expiry: %v", err)
	}
	now := t0.Add(time.Minute)
	got, err := s.ConsumeCodeByHash(ctx, "link", "hl", now)
	if err != nil || got.ID != "l1" || !got.UsedAt.Equal(now) {
		t.Fatalf("consume by hash: %+v %v", got, err)
	}
	if _, err := s.ConsumeCodeByHash(ctx, "link", "hl", now); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second consume by hash: %v", err)
	}
	if _, err := s.ConsumeCodeByHash(ctx, "link", "nope", now); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("consume unknown hash: %v", err)
	}
	// Found by hash even once used, with its use time (the service decides what that means).
	if f, err := s.FindCodeByHash(ctx, "link", "hl"); err != nil || !f.UsedAt.Equal(now) {
		t.Fatalf("FindCodeByHash after use: %+v %v", f, err)
	}
}

func testLockouts(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := store.FailurePolicy{Max: 3, Window: 10 * time.Minute, LockFor: 15 * time.Minute}
	fail := func(at time.Time) store.Lockout {
		t.Helper()
		l, err := s.RecordFailure(ctx, "app1", "otp", "user:u1", at, p)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l, err := s.GetLockout(ctx, "app1", "otp", "user:u1"); err != nil || l != (store.Lockout{}) {
		t.Fatalf("no failures yet: %+v %v", l, err)
	}
	if l := fail(t0); l.Failures != 1 || !l.LockedUntil.IsZero() {
		t.Fatalf("1st: %+v", l)
	}
	if l := fail(t0.Add(time.Minute)); l.Failures != 2 || !l.LockedUntil.IsZero() {
		t.Fatalf("2nd: %+v", l)
	}
	lockAt := t0.Add(2 * time.Minute)
	if l := fail(lockAt); l.Failures != 3 || !l.LockedUntil.Equal(lockAt.Add(15*time.Minute)) {
		t.Fatalf("3rd must lock for 15m: %+v", l)
	}
	if l, _ := s.GetLockout(ctx, "app1", "otp", "user:u1"); l.Failures != 3 || !l.LockedUntil.Equal(lockAt.Add(15*time.Minute)) {
		t.Fatalf("GetLockout: %+v", l)
	}
	// Other methods, identifiers and apps are not locked.
	for _, k := range [][3]string{{"app1", "link", "user:u1"}, {"app1", "otp", "user:u2"}, {"app2", "otp", "user:u1"}} {
		if l, _ := s.GetLockout(ctx, k[0], k[1], k[2]); l != (store.Lockout{}) {
			t.Fatalf("%v: %+v", k, l)
		}
	}
	// Once the lock has expired the count starts again.
	if l := fail(lockAt.Add(15 * time.Minute)); l.Failures != 1 || !l.LockedUntil.IsZero() {
		t.Fatalf("after the lock: %+v", l)
	}
	if err := s.ClearFailures(ctx, "app1", "otp", "user:u1"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.GetLockout(ctx, "app1", "otp", "user:u1"); l != (store.Lockout{}) {
		t.Fatalf("after ClearFailures: %+v", l)
	}
	// Failures further apart than the window do not add up.
	t1 := t0.Add(time.Hour)
	fail(t1)
	fail(t1.Add(time.Minute))
	if l := fail(t1.Add(10 * time.Minute)); l.Failures != 1 || !l.LockedUntil.IsZero() {
		t.Fatalf("a failure after the window restarts the count: %+v", l)
	}
	fail(t1.Add(11 * time.Minute))
	if l := fail(t1.Add(12 * time.Minute)); l.Failures != 3 || l.LockedUntil.IsZero() {
		t.Fatalf("three failures within the new window lock: %+v", l)
	}
	// A policy of one failure locks at once.
	if l, err := s.RecordFailure(ctx, "app1", "otp", "user:u9", t0, store.FailurePolicy{Max: 1, Window: time.Minute, LockFor: time.Minute}); err != nil || !l.LockedUntil.Equal(t0.Add(time.Minute)) {
		t.Fatalf("max 1: %+v %v", l, err)
	}
}

func testLockoutsConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := store.FailurePolicy{Max: 100, Window: time.Hour, LockFor: time.Hour}
	r := concurrently(30, nil, func(int) error {
		_, err := s.RecordFailure(ctx, "app1", "otp", "user:u1", t0, p)
		return err
	})
	for _, err := range r.other {
		t.Fatal(err)
	}
	if l, _ := s.GetLockout(ctx, "app1", "otp", "user:u1"); l.Failures != 30 {
		t.Fatalf("30 concurrent failures counted as %d", l.Failures)
	}
}

// sessionUsers seeds the tenant and users u1, u2 (sessions reference users).
func sessionUsers(t *testing.T, s store.Store) {
	t.Helper()
	tn := seedTenant(t, s)
	for _, id := range []string{"u1", "u2"} {
		if err := s.CreateUser(context.Background(), newUser(tn, id, id+"@example.com", "", "", t0)); err != nil {
			t.Fatal(err)
		}
	}
}

func newSession(id, userID string, at time.Time) store.Session {
	return store.Session{ID: id, AppID: "app1", UserID: userID, ClientID: "c1", AMR: []string{"eotp"}, AuthTime: at,
		CreatedAt: at, ExpiresAt: at.Add(14 * 24 * time.Hour)}
}

func newRefresh(hash, sessionID string, at time.Time) store.RefreshToken {
	return store.RefreshToken{Hash: hash, SessionID: sessionID, ClientID: "c1", Payload: []byte(`{"resource":"r1"}`),
		CreatedAt: at, ExpiresAt: at.Add(14 * 24 * time.Hour)}
}

func mustSaveLogin(t *testing.T, s store.Store, sess store.Session, isNew bool, rt store.RefreshToken) {
	t.Helper()
	if err := s.SaveLogin(context.Background(), sess, isNew, rt, sess.AuthTime); err != nil {
		t.Fatalf("SaveLogin %s: %v", sess.ID, err)
	}
}

// testSessionsSaveLoginLockout: a login guarded by a lockout check is refused with ErrLocked,
// writing nothing, while the identifier is locked or at the limit within the window; otherwise it
// goes through and forgets the failures.
func testSessionsSaveLoginLockout(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	p := store.FailurePolicy{Max: 3, Window: 10 * time.Minute, LockFor: 15 * time.Minute}
	check := store.UseFailures{AppID: "app1", Method: "otp", Identifier: "user:u1", Policy: p}
	n := 0
	login := func(at time.Time) error {
		n++
		id := fmt.Sprint("c", n)
		c := newCode(id, "h"+id, at)
		c.Identifier = "user:" + id // issued apart from the lock under test
		mustIssue(t, s, c, noLimit)
		return s.SaveLogin(ctx, newSession("s"+id, "u1", at), true, newRefresh("r"+id, "s"+id, at), at,
			store.UseCode{ID: id}, check)
	}
	refused := func(at time.Time, why string) {
		t.Helper()
		if err := login(at); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("%s: %v, want ErrLocked", why, err)
		}
		id := fmt.Sprint("c", n)
		if _, err := s.GetSession(ctx, "s"+id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: the refused login's session was stored: %v", why, err)
		}
		if c, err := s.FindCodeByHash(ctx, "otp", "h"+id); err != nil || !c.UsedAt.IsZero() {
			t.Fatalf("%s: the refused login used its code: %+v %v", why, c, err)
		}
		if l, _ := s.GetLockout(ctx, "app1", "otp", "user:u1"); l.Failures == 0 {
			t.Fatalf("%s: the refused login forgot the failures", why)
		}
	}
	fail := func(at time.Time) {
		if _, err := s.RecordFailure(ctx, "app1", "otp", "user:u1", at, p); err != nil {
			t.Fatal(err)
		}
	}

	// No failures: nothing to check or forget.
	if err := login(t0); err != nil {
		t.Fatalf("no failures: %v", err)
	}
	// Below the limit: the login goes through and the failures are forgotten.
	fail(t0)
	if err := login(t0.Add(time.Second)); err != nil {
		t.Fatalf("one failure: %v", err)
	}
	if l, _ := s.GetLockout(ctx, "app1", "otp", "user:u1"); l != (store.Lockout{}) {
		t.Fatalf("failures left after a login: %+v", l)
	}
	// Locked (the third failure locks for 15 minutes).
	t1 := t0.Add(time.Minute)
	fail(t1)
	fail(t1)
	fail(t1)
	refused(t1.Add(time.Minute), "locked")
	// At the limit within the window, even once the lock itself has passed: here the failures
	// reached the limit without the lock (another policy wrote them), 9 minutes ago.
	t2 := t1.Add(time.Hour)
	if err := s.ClearFailures(ctx, "app1", "otp", "user:u1"); err != nil {
		t.Fatal(err)
	}
	loose := store.FailurePolicy{Max: 10, Window: 10 * time.Minute, LockFor: time.Minute}
	for range 3 {
		if _, err := s.RecordFailure(ctx, "app1", "otp", "user:u1", t2, loose); err != nil {
			t.Fatal(err)
		}
	}
	refused(t2.Add(9*time.Minute), "at the limit within the window")
	// Once the window has passed, the same count no longer refuses.
	if err := login(t2.Add(11 * time.Minute)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if l, _ := s.GetLockout(ctx, "app1", "otp", "user:u1"); l != (store.Lockout{}) {
		t.Fatalf("failures left after a login: %+v", l)
	}
}

func testSessionsSaveLogin(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	sess := newSession("s1", "u1", t0)
	mustSaveLogin(t, s, sess, true, newRefresh("r1", "s1", t0))
	got, err := s.GetSession(ctx, "s1")
	if err != nil || !reflect.DeepEqual(got, sess) {
		t.Fatalf("GetSession = %+v, %v\nwant %+v", got, err, sess)
	}
	if u, _ := s.GetUser(ctx, "u1"); !u.LastAuth.Equal(t0) {
		t.Fatalf("last_auth = %v", u.LastAuth)
	}
	// Joining: amr, auth time and expiry change; the rest stays.
	later := t0.Add(time.Minute)
	joined := sess
	joined.AMR, joined.AuthTime, joined.ExpiresAt = []string{"eotp", "sms", "mfa"}, later, later.Add(14*24*time.Hour)
	// A join computed from an amr that is no longer the stored one (another login joined first)
	// is refused with ErrStale and writes nothing.
	stale := joined
	stale.PrevAMR = []string{"sms"}
	if err := s.SaveLogin(ctx, stale, false, newRefresh("r-stale", "s1", later), later); !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale join: %v", err)
	}
	joined.PrevAMR = sess.AMR
	mustSaveLogin(t, s, joined, false, newRefresh("r2", "s1", later))
	joined.PrevAMR = nil
	if got, _ := s.GetSession(ctx, "s1"); !reflect.DeepEqual(got, joined) {
		t.Fatalf("joined session = %+v\nwant %+v", got, joined)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "r-stale", newRefresh("r-stale-next", "", later), later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refresh token of a stale join was stored: %v", err)
	}
	if u, _ := s.GetUser(ctx, "u1"); !u.LastAuth.Equal(later) {
		t.Fatalf("last_auth after join = %v", u.LastAuth)
	}
	// A session that requires MFA says so, and keeps saying so once joined.
	pending := newSession("s-mfa", "u1", t0)
	pending.MFARequired = true
	mustSaveLogin(t, s, pending, true, store.RefreshToken{})
	pending.PrevAMR, pending.AMR = pending.AMR, []string{"eotp", "totp", "mfa"}
	mustSaveLogin(t, s, pending, false, store.RefreshToken{})
	if got, err := s.GetSession(ctx, "s-mfa"); err != nil || !got.MFARequired || len(got.AMR) != 3 {
		t.Fatalf("MFA-required session after its join: %+v %v", got, err)
	}
	// Both refresh tokens belong to the session.
	for _, h := range []string{"r1", "r2"} {
		if _, sess, _, err := s.RotateRefreshToken(ctx, h, newRefresh(h+"-next", "", later), later); err != nil || sess.ID != "s1" {
			t.Fatalf("rotate %s: %+v %v", h, sess, err)
		}
	}
	// A join of an unknown or ended session writes nothing.
	if err := s.SaveLogin(ctx, newSession("ghost", "u1", later), false, newRefresh("r-ghost", "ghost", later), later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("join unknown: %v", err)
	}
	if err := s.EndSession(ctx, "s1", later); err != nil {
		t.Fatal(err)
	}
	joined.PrevAMR = joined.AMR
	if err := s.SaveLogin(ctx, joined, false, newRefresh("r3", "s1", later), later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("join ended: %v", err)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "r3", newRefresh("r4", "", later), later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refresh token of a refused join was stored: %v", err)
	}
	// A login without a refresh token (rt.Hash empty) stores none.
	mustSaveLogin(t, s, newSession("s2", "u2", t0), true, store.RefreshToken{})
	if _, err := s.GetSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession unknown: %v", err)
	}
}

func testSessionsEndAndLive(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, store.RefreshToken{})
	mustSaveLogin(t, s, newSession("s2", "u1", t0), true, store.RefreshToken{})
	live := func(id string, at time.Time) bool {
		t.Helper()
		ok, err := s.SessionLive(ctx, id, at)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	expiry := t0.Add(14 * 24 * time.Hour)
	if !live("s1", t0) || !live("s1", expiry.Add(-time.Millisecond)) || live("s1", expiry) || live("ghost", t0) {
		t.Fatal("SessionLive is wrong about a live, an expired or an unknown session")
	}
	end := t0.Add(time.Hour)
	if err := s.EndSession(ctx, "s1", end); err != nil {
		t.Fatal(err)
	}
	if live("s1", end) || !live("s2", end) {
		t.Fatal("ending s1 must end s1 only")
	}
	if got, _ := s.GetSession(ctx, "s1"); !got.EndedAt.Equal(end) {
		t.Fatalf("ended_at = %v", got.EndedAt)
	}
	for _, tc := range []struct {
		id string
		at time.Time
	}{{"s1", end}, {"ghost", end}, {"s2", expiry}} {
		if err := s.EndSession(ctx, tc.id, tc.at); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("EndSession(%s) of an ended, unknown or expired session: %v", tc.id, err)
		}
	}
}

// testSessionsEndUserSessions: ending a user's sessions ends every live one of theirs at once
// (their refresh tokens then rotate no more), and no one else's.
func testSessionsEndUserSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, newRefresh("r1", "s1", t0))
	mustSaveLogin(t, s, newSession("s2", "u1", t0), true, newRefresh("r2", "s2", t0))
	mustSaveLogin(t, s, newSession("s3", "u2", t0), true, newRefresh("r3", "s3", t0))
	at := t0.Add(time.Hour)
	if err := s.EndSession(ctx, "s2", at); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EndUserSessions(ctx, "u1", at); err != nil || n != 1 {
		t.Fatalf("EndUserSessions(u1) = %d, %v; want the one live session", n, err)
	}
	for id, want := range map[string]bool{"s1": false, "s2": false, "s3": true} {
		if ok, err := s.SessionLive(ctx, id, at); err != nil || ok != want {
			t.Fatalf("%s live = %v (%v), want %v", id, ok, err, want)
		}
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "r1", store.RefreshToken{Hash: "n1", ClientID: "c1", ExpiresAt: at.Add(time.Hour)}, at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refresh token of an ended user session: %v", err)
	}
	if n, err := s.EndUserSessions(ctx, "u1", at); err != nil || n != 0 {
		t.Fatalf("again: %d, %v", n, err)
	}
}

func testRefreshRotate(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, newRefresh("r0", "s1", t0))

	// Rotation returns the old token and the session, slid to the new token's expiry.
	t1 := t0.Add(time.Hour)
	old, sess, u, err := s.RotateRefreshToken(ctx, "r0", store.RefreshToken{Hash: "r1", ClientID: "c1", CreatedAt: t1, ExpiresAt: t1.Add(14 * 24 * time.Hour)}, t1)
	if err != nil || old.Hash != "r0" || old.SessionID != "s1" || string(old.Payload) != `{"resource":"r1"}` || !old.UsedAt.Equal(t1) {
		t.Fatalf("rotate r0: %+v %v", old, err)
	}
	if want, err := s.GetUser(ctx, "u1"); err != nil || !reflect.DeepEqual(u, want) {
		t.Fatalf("the session's user: %+v\nwant %+v (%v)", u, want, err)
	}
	if sess.ID != "s1" || sess.UserID != "u1" || !sess.ExpiresAt.Equal(t1.Add(14*24*time.Hour)) {
		t.Fatalf("session after rotation: %+v", sess)
	}
	if got, _ := s.GetSession(ctx, "s1"); !got.ExpiresAt.Equal(t1.Add(14 * 24 * time.Hour)) {
		t.Fatalf("stored session expiry did not slide: %v", got.ExpiresAt)
	}
	// A new token without a payload inherits its predecessor's; an explicit one replaces it.
	t2 := t1.Add(time.Hour)
	old, _, _, err = s.RotateRefreshToken(ctx, "r1", store.RefreshToken{Hash: "r2", ClientID: "c1", Payload: []byte(`{"resource":"r2"}`), CreatedAt: t2, ExpiresAt: t2.Add(time.Hour)}, t2)
	if err != nil || string(old.Payload) != `{"resource":"r1"}` {
		t.Fatalf("rotate r1: payload %q, %v", old.Payload, err)
	}
	// A token expiring before the session does not shorten it.
	if got, _ := s.GetSession(ctx, "s1"); !got.ExpiresAt.Equal(t1.Add(14 * 24 * time.Hour)) {
		t.Fatalf("a short-lived token shortened the session: %v", got.ExpiresAt)
	}
	old, _, _, err = s.RotateRefreshToken(ctx, "r2", store.RefreshToken{Hash: "r3", ClientID: "c1", CreatedAt: t2, ExpiresAt: t2.Add(time.Hour)}, t2)
	if err != nil || string(old.Payload) != `{"resource":"r2"}` {
		t.Fatalf("rotate r2: payload %q, %v", old.Payload, err)
	}

	// Wrong client, unknown and expired tokens are not found, and change nothing.
	if _, _, _, err := s.RotateRefreshToken(ctx, "r3", store.RefreshToken{Hash: "x1", ClientID: "c2", ExpiresAt: t2.Add(time.Hour)}, t2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another client's token: %v", err)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "nope", store.RefreshToken{Hash: "x2", ClientID: "c1", ExpiresAt: t2.Add(time.Hour)}, t2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "r3", store.RefreshToken{Hash: "x3", ClientID: "c1", ExpiresAt: t2.Add(2 * time.Hour)}, t2.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired token: %v", err)
	}
	if ok, _ := s.SessionLive(ctx, "s1", t2); !ok {
		t.Fatal("a refused token ended the session")
	}
	// Whether the user may log in is the session service's rule: the store rotates and returns
	// the user as stored.
	disabled, err := s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	disabled.Status = "Disabled"
	if err := s.UpdateUser(ctx, disabled); err != nil {
		t.Fatal(err)
	}
	if _, _, u, err := s.RotateRefreshToken(ctx, "r3", store.RefreshToken{Hash: "r4", ClientID: "c1", ExpiresAt: t2.Add(time.Hour)}, t2); err != nil || u.Status != "Disabled" {
		t.Fatalf("r3 after refused attempts: user status %q, %v", u.Status, err)
	}
	for _, hash := range []string{"x1", "x2", "x3"} {
		if _, _, _, err := s.RotateRefreshToken(ctx, hash, store.RefreshToken{Hash: "x9", ClientID: "c1", ExpiresAt: t2.Add(time.Hour)}, t2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the token %s of a refused rotation was stored: %v", hash, err)
		}
	}

	// Reuse of a rotated token is reported with its session, and changes nothing; once the
	// session is ended (the service's answer to a reuse) its newest token fails too.
	t3 := t2.Add(time.Minute)
	if old, _, _, err := s.RotateRefreshToken(ctx, "r1", store.RefreshToken{Hash: "x4", ClientID: "c1", ExpiresAt: t3.Add(time.Hour)}, t3); !errors.Is(err, store.ErrReused) || old.SessionID != "s1" {
		t.Fatalf("reuse: session %q, %v", old.SessionID, err)
	}
	if ok, _ := s.SessionLive(ctx, "s1", t3); !ok {
		t.Fatal("a refused rotation ended the session")
	}
	if err := s.EndSession(ctx, "s1", t3); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "r4", store.RefreshToken{Hash: "x5", ClientID: "c1", ExpiresAt: t3.Add(time.Hour)}, t3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("newest token after reuse: %v", err)
	}
	// The refused rotation rolled back: r4 is still unused, so it is not "reused" either.
	if _, _, _, err := s.RotateRefreshToken(ctx, "r4", store.RefreshToken{Hash: "x6", ClientID: "c1", ExpiresAt: t3.Add(time.Hour)}, t3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("newest token again: %v", err)
	}
	if _, _, _, err := s.RotateRefreshToken(ctx, "x5", store.RefreshToken{Hash: "x7", ClientID: "c1", ExpiresAt: t3.Add(time.Hour)}, t3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the token of a refused rotation was stored: %v", err)
	}
}

func testRefreshRotateConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	sessionUsers(t, s)
	mustSaveLogin(t, s, newSession("s1", "u1", t0), true, newRefresh("r0", "s1", t0))
	r := concurrently(10, is(store.ErrReused), func(i int) error {
		old, _, _, err := s.RotateRefreshToken(ctx, "r0", store.RefreshToken{Hash: fmt.Sprintf("n%d", i), ClientID: "c1", ExpiresAt: t0.Add(time.Hour)}, t0)
		if errors.Is(err, store.ErrReused) && old.SessionID != "s1" {
			return fmt.Errorf("reuse reported for session %q", old.SessionID)
		}
		return err
	})
	if r.ok != 1 || r.refused != 9 || len(r.other) > 0 {
		t.Fatalf("%d wins, %d reused, errors %v; want exactly one win", r.ok, r.refused, r.other)
	}
}

// testCodesIssueConcurrentLimit: concurrent sends to one key respect the key's limit exactly,
// and concurrent sends to many keys the app's ceiling: the count and the insert are one
// transaction serialized per key (the app's count is one conditional upsert), however the
// engine sends its statements.
func testCodesIssueConcurrentLimit(t *testing.T, s store.Store) {
	limit := perKey(3, 15*time.Minute)
	var rl *store.RateLimitedError
	limited := func(err error) bool { return errors.As(err, &rl) }
	r := concurrently(20, limited, func(i int) error {
		c := newCode(fmt.Sprint("cc", i), fmt.Sprint("hcc", i), t0.Add(time.Duration(i)*time.Millisecond))
		return s.IssueCode(context.Background(), c, limit)
	})
	if r.ok != 3 || r.refused != 17 || len(r.other) > 0 {
		t.Fatalf("%d sent, %d limited, errors %v; want exactly 3 sent", r.ok, r.refused, r.other)
	}
	// The newest code is usable.
	if _, _, err := s.LatestCode(context.Background(), "app1", "otp", "user:u1"); err != nil {
		t.Fatal(err)
	}
	r = concurrently(20, limited, func(i int) error {
		c := newCode(fmt.Sprint("ac", i), fmt.Sprint("hac", i), t0.Add(time.Hour))
		c.Identifier = fmt.Sprint("user:many", i)
		return s.IssueCode(context.Background(), c, store.SendLimits{Key: c.Identifier, PerApp: store.RateLimit{Max: 5, Window: time.Minute}})
	})
	if r.ok != 5 || r.refused != 15 || len(r.other) > 0 {
		t.Fatalf("%d sent, %d limited, errors %v; want exactly the app's 5", r.ok, r.refused, r.other)
	}
}
