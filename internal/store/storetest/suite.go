package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// Run runs the conformance suite against a fresh store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"tenant_created_once", testTenant},
		{"apps_and_clients", testApps},
		{"apps_update", testAppsUpdate},
		{"apps_delete", testAppsDelete},
		{"users_by_external_id", testUserByExternalID},
		{"sessions_end_user_app_sessions", testEndUserAppSessions},
		{"users_crud_and_uniqueness", testUsers},
		{"users_list_search_count", testUserList},
		{"signing_keys_rotate", testKeys},
		{"outbox_newest_first", testOutbox},
		{"totp_add_get_list", testTOTPAddGetList},
		{"totp_login_list", testTOTPLoginList},
		{"totp_limit_and_replace", testTOTPLimitAndReplace},
		{"totp_accept_step_once", testTOTPAcceptStep},
		{"totp_accept_step_concurrent", testTOTPAcceptStepConcurrent},
		{"totp_activate_pending", testTOTPActivate},
		{"totp_revoke", testTOTPRevoke},
		{"totp_challenges", testTOTPChallenges},
		{"totp_deleted_with_user", testTOTPDeletedWithUser},
		{"recovery_codes", testRecoveryCodes},
		{"recovery_code_concurrent", testRecoveryCodeConcurrent},
		{"codes_latest_round_trip", testCodesLatestRoundTrip},
		{"codes_issue_retires_previous", testCodesIssueRetiresPrevious},
		{"codes_issue_rate_limit", testCodesIssueRateLimit},
		{"codes_issue_two_windows", testCodesIssueTwoWindows},
		{"codes_issue_app_ceiling", testCodesIssueAppCeiling},
		{"codes_delete_withdraws_the_send", testCodesDeleteWithdrawsTheSend},
		{"codes_locked_identifier", testCodesLockedIdentifier},
		{"codes_issue_prunes_old", testCodesIssuePrunes},
		{"codes_consume_once", testCodesConsume},
		{"codes_consume_concurrent", testCodesConsumeConcurrent},
		{"codes_issue_concurrent_limit", testCodesIssueConcurrentLimit},
		{"codes_consume_by_hash", testCodesConsumeByHash},
		{"codes_by_hash_only_when_marked", testCodesByHashOnlyWhenMarked},
		{"codes_user_latest_code", testCodesUserLatestCode},
		{"codes_find_by_hash_with_user", testCodesFindByHashWithUser},
		{"lockouts_window_lock_restart", testLockouts},
		{"lockouts_concurrent_failures", testLockoutsConcurrent},
		{"sessions_save_login", testSessionsSaveLogin},
		{"sessions_save_login_lockout", testSessionsSaveLoginLockout},
		{"sessions_end_and_live", testSessionsEndAndLive},
		{"sessions_end_user_sessions", testSessionsEndUserSessions},
		{"refresh_rotate_reuse", testRefreshRotate},
		{"refresh_rotate_concurrent", testRefreshRotateConcurrent},
		{"access_token_revocation", testAccessTokenRevocation},
		{"refresh_token_info_and_end", testRefreshTokenInfoAndEnd},
		{"sso_sessions_and_grants", testSSO},
		{"passwords", testPasswords},
		{"password_reset_once", testPasswordReset},
		{"prune_expired", testPrune},
		{"prune_backlog_in_chunks", testPruneBacklog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func seedTenant(t *testing.T, s store.Store) store.Tenant {
	t.Helper()
	tn, _, err := s.EnsureTenant(context.Background(), store.Tenant{ID: "tenant1", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func testTenant(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, created, err := s.EnsureTenant(ctx, store.Tenant{ID: "t-a", CreatedAt: t0})
	if err != nil || !created || a.ID != "t-a" {
		t.Fatalf("first: %+v %v %v", a, created, err)
	}
	b, created, err := s.EnsureTenant(ctx, store.Tenant{ID: "t-b", CreatedAt: t0.Add(time.Hour)})
	if err != nil || created || b.ID != "t-a" || !b.CreatedAt.Equal(t0) {
		t.Fatalf("second must return the first tenant: %+v %v %v", b, created, err)
	}
}

func testApps(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	app := store.App{ID: "app1", TenantID: tn.ID, Name: "default", RedirectURIs: []string{"http://x/cb"},
		AllowSignup: true, Resources: []string{"https://api.example"}, Settings: []byte(`{"otp_length":6}`), CreatedAt: t0}
	cl := store.Client{ClientID: "c1", AppID: "app1", SecretHash: "h1", CreatedAt: t0}
	if err := s.CreateApp(ctx, app, cl); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetApp(ctx, "app1")
	if err != nil || got.Name != "default" || !got.AllowSignup || len(got.RedirectURIs) != 1 || got.RedirectURIs[0] != "http://x/cb" ||
		string(got.Settings) != `{"otp_length":6}` || got.Resources[0] != "https://api.example" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetApp: %+v %v", got, err)
	}
	if byName, err := s.GetAppByName(ctx, "default"); err != nil || byName.ID != "app1" {
		t.Fatalf("GetAppByName: %+v %v", byName, err)
	}
	if _, err := s.GetApp(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing app: %v", err)
	}
	// A second app with the same name conflicts and leaves nothing behind (one transaction).
	err = s.CreateApp(ctx, store.App{ID: "app2", TenantID: tn.ID, Name: "default", Settings: []byte(`{}`), CreatedAt: t0},
		store.Client{ClientID: "c2", AppID: "app2", SecretHash: "h", CreatedAt: t0})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.GetClient(ctx, "c2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("client of a failed app create was written: %v", err)
	}
	// A client whose id is taken rolls the app back.
	err = s.CreateApp(ctx, store.App{ID: "app3", TenantID: tn.ID, Name: "other", Settings: []byte(`{}`), CreatedAt: t0},
		store.Client{ClientID: "c1", AppID: "app3", SecretHash: "h", CreatedAt: t0})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate client: %v", err)
	}
	if _, err := s.GetApp(ctx, "app3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("app of a failed create was written: %v", err)
	}
	if err := s.CreateClient(ctx, store.Client{ClientID: "c3", AppID: "app1", SecretHash: "h3", Admin: true, CreatedAt: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, store.Client{ClientID: "c4", AppID: "missing", SecretHash: "h", CreatedAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("client of missing app: %v", err)
	}
	c, err := s.GetClient(ctx, "c3")
	if err != nil || c.AppID != "app1" || c.SecretHash != "h3" || !c.Admin {
		t.Fatalf("GetClient: %+v %v", c, err)
	}
	cls, err := s.ListClients(ctx, "app1")
	if err != nil || len(cls) != 2 || cls[0].ClientID != "c1" {
		t.Fatalf("ListClients: %+v %v", cls, err)
	}
	apps, err := s.ListApps(ctx)
	if err != nil || len(apps) != 1 {
		t.Fatalf("ListApps: %+v %v", apps, err)
	}
}

func newUser(tn store.Tenant, id, email, phone, username string, at time.Time) store.User {
	return store.User{ID: id, TenantID: tn.ID, Email: email, Phone: phone, Username: username, Status: "Active",
		Profile: []byte(`{}`), CreatedAt: at, UpdatedAt: at, StatusChangeAt: at}
}

// mustCreateUser creates u and returns it, failing the test when it cannot.
func mustCreateUser(t *testing.T, s store.Store, u store.User) store.User {
	t.Helper()
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser %s: %v", u.ID, err)
	}
	return u
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	u := newUser(tn, "u1", "ann@example.com", "+15551234567", "ann", t0)
	u.EmailVerified = true
	u.Profile = []byte(`{"name":{"first_name":"Ann"}}`)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		get  func() (store.User, error)
	}{
		{"by_id", func() (store.User, error) { return s.GetUser(ctx, "u1") }},
		{"by_email", func() (store.User, error) { return s.GetUserByEmail(ctx, "ann@example.com") }},
		{"by_phone", func() (store.User, error) { return s.GetUserByPhone(ctx, "+15551234567") }},
		{"by_username", func() (store.User, error) { return s.GetUserByUsername(ctx, "ann") }},
	} {
		got, err := tc.get()
		if err != nil || got.ID != "u1" || !got.EmailVerified || got.PhoneVerified || string(got.Profile) != string(u.Profile) || !got.CreatedAt.Equal(t0) || !got.LastAuth.IsZero() {
			t.Fatalf("%s: %+v %v", tc.name, got, err)
		}
	}
	// Users without a phone or username do not collide on the empty value.
	if err := s.CreateUser(ctx, newUser(tn, "u2", "bob@example.com", "", "", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, newUser(tn, "u3", "", "+15550000000", "", t0)); err != nil {
		t.Fatal(err)
	}
	for _, dup := range []store.User{
		newUser(tn, "x1", "ann@example.com", "", "", t0),
		newUser(tn, "x2", "", "+15551234567", "", t0),
		newUser(tn, "x3", "new@example.com", "", "ann", t0),
		newUser(tn, "u2", "other@example.com", "", "", t0),
	} {
		if err := s.CreateUser(ctx, dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate %s: %v", dup.ID, err)
		}
	}
	// Update: taking another user's email conflicts; a real change persists.
	u2, _ := s.GetUser(ctx, "u2")
	u2.Email = "ann@example.com"
	if err := s.UpdateUser(ctx, u2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update to a taken email: %v", err)
	}
	u2.Email = "bobby@example.com"
	u2.Username = "bobby"
	u2.Status = "Disabled"
	u2.UpdatedAt = t0.Add(time.Minute)
	if err := s.UpdateUser(ctx, u2); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUserByUsername(ctx, "bobby")
	if err != nil || got.Email != "bobby@example.com" || got.Status != "Disabled" || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after update: %+v %v", got, err)
	}
	if err := s.UpdateUser(ctx, newUser(tn, "ghost", "", "", "", t0)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if err := s.TouchUserLastAuth(ctx, "u1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetUser(ctx, "u1"); !got.LastAuth.Equal(t0.Add(time.Hour)) {
		t.Fatalf("last auth: %v", got.LastAuth)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user still there: %v", err)
	}
	if err := s.DeleteUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	// The email is free again.
	if err := s.CreateUser(ctx, newUser(tn, "u4", "ann@example.com", "", "", t0)); err != nil {
		t.Fatalf("reuse freed email: %v", err)
	}
}

func testUserList(t *testing.T, s store.Store) {
	ctx := context.Background()
	tn := seedTenant(t, s)
	for i := 0; i < 7; i++ {
		u := newUser(tn, fmt.Sprintf("u%d", i), fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("+1555000000%d", i), "", t0.Add(time.Duration(i)*time.Second))
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateUser(ctx, newUser(tn, "z", "zed_100%@other.org", "", "Zed", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListUsers(ctx, store.UserQuery{Offset: 2, Limit: 3})
	if err != nil || len(page) != 3 || page[0].ID != "u2" || page[2].ID != "u4" {
		t.Fatalf("page: %v %v", ids(page), err)
	}
	desc, err := s.ListUsers(ctx, store.UserQuery{Limit: 2, Desc: true})
	if err != nil || len(desc) != 2 || desc[0].ID != "z" {
		t.Fatalf("desc: %v %v", ids(desc), err)
	}
	for _, tc := range []struct {
		q    store.UserQuery
		want int
	}{
		{store.UserQuery{}, 8},
		{store.UserQuery{Search: "EXAMPLE.com"}, 7},
		{store.UserQuery{Search: "100%"}, 1},
		{store.UserQuery{Search: "_"}, 1},
		{store.UserQuery{Search: "zed"}, 1},
		{store.UserQuery{Prefix: "+1555"}, 7},
		{store.UserQuery{Prefix: "user3"}, 1},
		{store.UserQuery{Prefix: "example"}, 0},
		{store.UserQuery{Status: "Disabled"}, 0},
	} {
		n, err := s.CountUsers(ctx, tc.q)
		if err != nil || n != tc.want {
			t.Errorf("count %+v = %d, %v; want %d", tc.q, n, err, tc.want)
		}
		list, err := s.ListUsers(ctx, tc.q)
		if err != nil || len(list) != tc.want {
			t.Errorf("list %+v = %d, %v; want %d", tc.q, len(list), err, tc.want)
		}
	}
	if _, err := s.ListUsers(ctx, store.UserQuery{SortField: "password"}); err == nil {
		t.Fatal("unknown sort field accepted")
	}
}

func ids(us []store.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.AddSigningKey(ctx, store.SigningKey{KID: "k1", Alg: "ES256", Private: "sealed1", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSigningKey(ctx, store.SigningKey{KID: "k2", Alg: "ES256", Private: "sealed2", CreatedAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("%+v %v", keys, err)
	}
	if keys[0].KID != "k2" || !keys[0].RetiredAt.IsZero() || keys[0].Private != "sealed2" {
		t.Fatalf("newest key: %+v", keys[0])
	}
	if keys[1].KID != "k1" || !keys[1].RetiredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("retired key: %+v", keys[1])
	}
	if err := s.AddSigningKey(ctx, store.SigningKey{KID: "k2", Alg: "ES256", Private: "x", CreatedAt: t0.Add(2 * time.Hour)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate kid: %v", err)
	}
	// The failed insert rolled back the retirement of k2.
	keys, _ = s.ListSigningKeys(ctx)
	if !keys[0].RetiredAt.IsZero() {
		t.Fatalf("failed rotation retired the signing key: %+v", keys[0])
	}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i, to := range []string{"a@x.io", "+15550001111", "a@x.io"} {
		ch := "email"
		if to[0] == '+' {
			ch = "sms"
		}
		m := store.OutboxMessage{ID: fmt.Sprintf("m%d", i), Channel: ch, To: to, Subject: fmt.Sprintf("s%d", i), Text: "t", HTML: "<p>h</p>", CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if err := s.AddOutboxMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListOutbox(ctx, "", 10)
	if err != nil || len(all) != 3 || all[0].ID != "m2" || all[2].ID != "m0" {
		t.Fatalf("all: %+v %v", all, err)
	}
	mine, err := s.ListOutbox(ctx, "a@x.io", 10)
	if err != nil || len(mine) != 2 || mine[0].Subject != "s2" || mine[0].HTML != "<p>h</p>" || !mine[0].CreatedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("filtered: %+v %v", mine, err)
	}
	one, _ := s.ListOutbox(ctx, "", 1)
	if len(one) != 1 {
		t.Fatalf("limit: %d", len(one))
	}
}
