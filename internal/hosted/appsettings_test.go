package hosted_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAppSettingsApplyToHostedLogins: an application's MFA policy (require_mfa) makes every
// hosted login of it need a second factor though the request does not ask, and its brand colour
// colours the emails of requests that set none; both set over the admin API.
func TestAppSettingsApplyToHostedLogins(t *testing.T) {
	e := sqliteEnv(t)
	admin := e.AdminToken(t)
	email := uniqueEmail("policy")
	signup := map[string]any{"create_new_user": true}
	// before: a plain login yields a code
	if q := e.follow(t, e.begin(t, flowNamed("otp_email"), "email", email, signup, nil)).Query(); q.Get("code") == "" {
		t.Fatalf("a login without the policy redirected without a code: %v", q)
	}
	if html := e.Outbox(t, strings.ToLower(email))[0].HTML; strings.Contains(strings.ToLower(html), "#0a7f3c") {
		t.Fatal("the email has the brand colour before it was set")
	}
	r := e.Do(t, http.MethodPut, "/cis/v1/applications/"+e.App.ID, admin, map[string]any{
		"settings": map[string]any{"require_mfa": true, "brand_primary_color": "#0a7f3c"}})
	if r.Status != http.StatusOK {
		t.Fatalf("set the policy: %d %s", r.Status, r.Body)
	}
	other := uniqueEmail("policy")
	wantMFARequired(t, e.follow(t, e.begin(t, flowNamed("otp_email"), "email", other, signup, nil)))
	if html := e.Outbox(t, strings.ToLower(other))[0].HTML; !strings.Contains(strings.ToLower(html), "#0a7f3c") {
		t.Errorf("the email does not carry the app's brand colour:\n%.800s", html)
	}
}
