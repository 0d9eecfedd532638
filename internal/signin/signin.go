// Package signin is Latch as an OpenID Connect provider: the authorization endpoint, Latch's own
// server-rendered sign-in pages (email code, magic link, SMS code, then TOTP or a recovery code
// when a second factor is needed), the browser session that signs the next app in without a
// code (single sign-on), the authorization codes the token endpoint exchanges, and RP-initiated
// logout.
//
// It is a new front door to the existing services, not a copy of them: codes are issued,
// limited, checked and locked out by otp.Codes, second factors are checked by totp.Service (with
// its replay guard and lockout), and every session and token comes from session.Service. It
// never logs a code, a token or a cookie.
package signin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/password"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
	"github.com/latch-auth/latch/internal/totp"
	"github.com/latch-auth/latch/internal/user"
)

// Paths of the provider. The authorization and logout endpoints are also served without /cis.
const (
	AuthPath      = "/cis/oidc/auth"
	LoginPath     = "/cis/oidc/login"
	LinkPath      = "/cis/oidc/login/link"
	EndPath       = "/cis/oidc/session/end"
	FormPostJS    = "/cis/oidc/static/form_post.js"
	browserCookie = "latch_browser"
	ssoCookie     = "latch_sso"
)

// Code spaces of the provider in the codes table.
const (
	methodCode   = "oidc_code"   // authorization codes handed to redirect_uri
	methodLink   = "oidc_link"   // emailed sign-in links
	methodSignup = "oidc_signup" // codes sent to an address that has no user yet (sign-up)
)

// Lifetimes.
const (
	CodeTTL    = 60 * time.Second // an authorization code
	flowTTL    = 30 * time.Minute // one sign-in on the pages
	ResendWait = 30 * time.Second // between two sends of a code or link
	ssoTTL     = session.TTL
)

// Store is what the provider reads and writes beyond the services.
type Store interface {
	store.SSO
	GetSession(ctx context.Context, id string) (store.Session, error)
	EndSession(ctx context.Context, id string, now time.Time) error
	GetPassword(ctx context.Context, userID string) (store.PasswordCredential, error)
}

// Provider is Latch's OpenID Connect provider.
type Provider struct {
	Apps     *app.Service
	Users    *user.Service
	Codes    *otp.Codes
	Sessions *session.Service
	TOTP     *totp.Service
	// Passwords checks the password method of the pages (for apps with password_enabled).
	Passwords *password.Service
	Store     Store
	Sender    delivery.Sender
	Box       *secret.Box
	Signer    *token.Signer
	Clock     clock.Clock
	Log       *slog.Logger
	Metrics   *metrics.Metrics
	Issuer    string
}

// Scopes Latch grants; others are accepted and ignored (OIDC Core §3.1.2.1).
var knownScopes = []string{"openid", "email", "phone", "offline_access"}

// authRequest is a validated authorization request.
type authRequest struct {
	ClientID      string `json:"c"`
	RedirectURI   string `json:"r"`
	Scope         string `json:"sc"`
	State         string `json:"st,omitempty"`
	Nonce         string `json:"n,omitempty"`
	CodeChallenge string `json:"cc,omitempty"`
	FormPost      bool   `json:"fp,omitempty"`
	Prompt        string `json:"p,omitempty"`
	MaxAge        int64  `json:"ma"` // -1: none
	MFA           bool   `json:"mfa,omitempty"`
	LoginHint     string `json:"lh,omitempty"`
	Signup        bool   `json:"su,omitempty"` // createNewUser was not false
	HintSubject   string `json:"hs,omitempty"` // the sub of a verified id_token_hint
	Resource      string `json:"rs,omitempty"` // the access token's audience (a resource of the app)
	Claims        string `json:"cl,omitempty"` // an OIDC claims request (JSON)
}

func (q authRequest) offline() bool {
	return slices.Contains(strings.Fields(q.Scope), "offline_access")
}

func (q authRequest) prompt(p string) bool { return slices.Contains(strings.Fields(q.Prompt), p) }

// authError is an error of OIDC Core §3.1.2.6 sent back to the redirect URI.
type authError struct {
	Code, Description string
}

func (e *authError) Error() string { return e.Code + ": " + e.Description }

func invalidRequest(desc string) *authError { return &authError{"invalid_request", desc} }

var pkceValue = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// parseRequest validates the parameters after the client and redirect URI (checked by the caller).
func parseRequest(c store.Client, a app.App, v url.Values) (authRequest, *authError) {
	q := authRequest{ClientID: c.ClientID, RedirectURI: v.Get("redirect_uri"), MaxAge: -1}
	if v.Get("response_mode") == "form_post" {
		q.FormPost = true
	}
	q.State = v.Get("state")
	if len(q.State) > 2048 {
		q.State = ""
		return q, invalidRequest("state must be at most 2048 characters")
	}
	switch v.Get("response_mode") {
	case "", "query", "form_post":
	default:
		return q, invalidRequest("response_mode must be query or form_post")
	}
	if v.Has("request") {
		return q, &authError{"request_not_supported", "request objects are not supported"}
	}
	if v.Has("request_uri") {
		return q, &authError{"request_uri_not_supported", "request_uri is not supported"}
	}
	if v.Has("registration") {
		return q, &authError{"registration_not_supported", "registration is not supported"}
	}
	switch rt := v.Get("response_type"); rt {
	case "code":
	case "":
		return q, invalidRequest("response_type is required")
	default:
		return q, &authError{"unsupported_response_type", "response_type must be code"}
	}
	scopes := strings.Fields(v.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		return q, &authError{"invalid_scope", "scope must include openid"}
	}
	var granted []string
	for _, s := range knownScopes {
		if slices.Contains(scopes, s) {
			granted = append(granted, s)
		}
	}
	q.Scope = strings.Join(granted, " ")
	q.Nonce = v.Get("nonce")
	if len(q.Nonce) > 512 {
		return q, invalidRequest("nonce must be at most 512 characters")
	}
	q.CodeChallenge = v.Get("code_challenge")
	method := v.Get("code_challenge_method")
	switch {
	case q.CodeChallenge == "" && method != "":
		return q, invalidRequest("code_challenge is required with code_challenge_method")
	case q.CodeChallenge == "" && app.IsPublic(c):
		return q, invalidRequest("code_challenge (PKCE, S256) is required for a public client")
	case q.CodeChallenge != "" && method != "S256":
		return q, invalidRequest("code_challenge_method must be S256")
	case q.CodeChallenge != "" && (len(q.CodeChallenge) != 43 || !pkceValue.MatchString(q.CodeChallenge)):
		return q, invalidRequest("code_challenge must be the base64url SHA-256 of the code verifier (43 characters)")
	}
	for _, p := range strings.Fields(v.Get("prompt")) {
		switch p {
		case "none", "login", "consent", "select_account":
		default:
			return q, invalidRequest("prompt must be none, login or consent")
		}
	}
	q.Prompt = strings.Join(strings.Fields(v.Get("prompt")), " ")
	if q.prompt("none") && len(strings.Fields(q.Prompt)) > 1 {
		return q, invalidRequest("prompt none cannot be combined with other values")
	}
	if q.prompt("select_account") {
		return q, &authError{"account_selection_required", "Latch signs in one account per browser"}
	}
	if ma := v.Get("max_age"); ma != "" {
		n, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || n < 0 {
			return q, invalidRequest("max_age must be a whole number of seconds")
		}
		q.MaxAge = n
	}
	q.MFA = slices.Contains(strings.Fields(v.Get("acr_values")), "mfa")
	q.LoginHint = v.Get("login_hint")
	if len(q.LoginHint) > 320 {
		q.LoginHint = ""
	}
	q.Signup = v.Get("createNewUser") != "false"
	if q.Resource = v.Get("resource"); q.Resource != "" && !a.HasResource(q.Resource) {
		return q, &authError{"invalid_target", "resource is not a resource of this application"}
	}
	if q.Claims = v.Get("claims"); q.Claims != "" {
		if len(q.Claims) > 4096 || session.ValidateClaims(json.RawMessage(q.Claims)) != nil {
			return q, invalidRequest(`claims must be a JSON object like {"id_token": {"email": null}}`)
		}
	}
	return q, nil
}

// loopback reports whether the issuer is on this machine (cookies may then go without Secure).
func loopback(issuer string) bool {
	u, err := url.Parse(issuer)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (p *Provider) secure() bool { return !loopback(p.Issuer) }

func (p *Provider) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: p.secure(), SameSite: http.SameSiteLaxMode})
}

// browser returns the keyed hash of the browser's own cookie (set when absent): the flow of a
// sign-in is bound to it, which is what stops cross-site form posts and makes an emailed link
// finish only in the browser that asked for it.
func (p *Provider) browser(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		v = c.Value
	} else {
		v = secret.NewToken()
		p.setCookie(w, browserCookie, v, 0)
		r.AddCookie(&http.Cookie{Name: browserCookie, Value: v})
	}
	return p.Box.Hash("signin-browser", v)
}

// browserHash is the browser binding of a request that must already carry the cookie ("" if not).
func (p *Provider) browserHash(r *http.Request) string {
	c, err := r.Cookie(browserCookie)
	if err != nil || len(c.Value) < 32 || len(c.Value) > 64 {
		return ""
	}
	return p.Box.Hash("signin-browser", c.Value)
}

// Authorize serves GET and POST /cis/oidc/auth.
func (p *Provider) Authorize(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			p.problem(w, r, http.StatusBadRequest, "This sign-in request cannot be read", "The request was malformed.")
			return
		}
		v = r.PostForm
	}
	ctx := r.Context()
	c, a, err := p.Apps.Lookup(ctx, v.Get("client_id"))
	if err == nil && c.Admin {
		err = app.ErrBadClient // a management client signs no user in
	}
	if errors.Is(err, app.ErrBadClient) {
		p.problem(w, r, http.StatusBadRequest, "Unknown application",
			"The app that sent you here is not registered with this sign-in service (client_id is missing or unknown). Go back to the app and try again, or tell its operator.")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	ru := v.Get("redirect_uri")
	if ru == "" || !a.AllowsRedirect(ru) {
		p.problem(w, r, http.StatusBadRequest, "This sign-in request cannot be used",
			"The address the app asked to return to (redirect_uri) is missing or is not one registered for "+a.Name+". Nothing was sent to it. Tell the app's operator.")
		return
	}
	q, aerr := parseRequest(c, a, v)
	if aerr != nil {
		p.respondError(w, r, a, q, aerr)
		return
	}
	if hint := v.Get("id_token_hint"); hint != "" {
		claims, err := p.Signer.VerifyHint(hint)
		if err != nil {
			p.respondError(w, r, a, q, invalidRequest("id_token_hint is not an ID token issued by this server"))
			return
		}
		q.HintSubject = claims.Subject
	}
	p.begin(w, r, a, q)
}

// begin decides what an authorization request needs: nothing (single sign-on), a second factor
// (step-up), or the sign-in pages.
func (p *Provider) begin(w http.ResponseWriter, r *http.Request, a app.App, q authRequest) {
	ctx := r.Context()
	now := p.Clock.Now()
	binding := p.browser(w, r)
	sso, u, ok := p.currentSSO(ctx, r, now)
	if ok && q.HintSubject != "" && q.HintSubject != u.ID {
		ok = false
	}
	if ok && q.prompt("login") {
		ok = false
	}
	if ok && q.MaxAge >= 0 && now.Sub(sso.AuthTime) > time.Duration(q.MaxAge)*time.Second {
		ok = false
	}
	if ok && passwordOnly(sso.AMR) && !a.Settings.SignsInWith(app.SignInPassword) {
		// An app that has not enabled passwords never lets a password alone in, not even
		// through another app's sign-in: the person signs in with one of its own methods.
		ok = false
	}
	if !ok {
		if q.prompt("none") {
			p.respondError(w, r, a, q, &authError{"login_required", "the user is not signed in"})
			return
		}
		f := flow{Req: q, Browser: binding, Step: stepStart, Email: hintEmail(q.LoginHint), Phone: hintPhone(q.LoginHint)}
		p.render(w, r, a, f, http.StatusOK, pageData{})
		return
	}
	need, enrolled, err := p.needsMFA(ctx, a, q, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	inherit := &session.Inherited{AMR: sso.AMR, AuthTime: sso.AuthTime}
	if need && !slices.Contains(sso.AMR, "mfa") {
		if q.prompt("none") {
			p.respondError(w, r, a, q, &authError{"interaction_required", "a second factor is required"})
			return
		}
		if !enrolled {
			ok, err := p.passwordStepUp(ctx, a, u)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			if ok {
				// The username field is prefilled only with a username: this browser may have
				// proved no more than a password, and the user's addresses are not shown to it.
				f := flow{Req: q, Browser: binding, Step: stepStart, Email: hintEmail(q.LoginHint), Phone: hintPhone(q.LoginHint), Username: u.Username}
				p.render(w, r, a, f, http.StatusOK, pageData{Notice: "This app asks for your password and a code. Sign in with your password to go on."})
				return
			}
			p.noSecondFactor(w, r, a, q)
			return
		}
		tok, err := p.Sessions.Complete(ctx, session.Login{App: a, ClientID: q.ClientID, User: u, Inherit: inherit, MFAPending: true, Scope: q.Scope})
		if err != nil {
			p.fail(w, r, err)
			return
		}
		f := flow{Req: q, Browser: binding, Step: stepTOTP, UserID: u.ID, Session: tok.SessionID, SSO: sso.ID}
		p.render(w, r, a, f, http.StatusOK, pageData{})
		return
	}
	tok, err := p.Sessions.Complete(ctx, session.Login{App: a, ClientID: q.ClientID, User: u, Inherit: inherit, SaveOnly: true, Scope: q.Scope})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.finish(w, r, a, flow{Req: q, Browser: binding, UserID: u.ID, SSO: sso.ID}, u, tok.SessionID)
}

// passwordOnly reports whether a sign-in's methods are a password and nothing else.
func passwordOnly(amr []string) bool {
	for _, m := range amr {
		if m != password.AMR {
			return false
		}
	}
	return len(amr) > 0
}

// passwordStepUp reports whether a user without an authenticator can still reach two factors at
// app a the way a fresh sign-in there does: the app signs in with passwords, the user has one,
// and a code can go to the user's own email or phone after it.
func (p *Provider) passwordStepUp(ctx context.Context, a app.App, u store.User) (bool, error) {
	if p.Passwords == nil || !a.Settings.SignsInWith(app.SignInPassword) || (u.Email == "" && u.Phone == "") {
		return false, nil
	}
	_, err := p.Store.GetPassword(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// currentSSO returns the browser's live single sign-on session and its active user.
func (p *Provider) currentSSO(ctx context.Context, r *http.Request, now time.Time) (store.SSOSession, store.User, bool) {
	c, err := r.Cookie(ssoCookie)
	if err != nil || c.Value == "" || len(c.Value) > 64 {
		return store.SSOSession{}, store.User{}, false
	}
	s, err := p.Store.GetSSO(ctx, p.ssoID(c.Value))
	if err != nil || !s.EndedAt.IsZero() || !now.Before(s.ExpiresAt) {
		return store.SSOSession{}, store.User{}, false
	}
	u, err := p.Users.Get(ctx, s.UserID)
	if err != nil || u.Status != user.StatusActive {
		return store.SSOSession{}, store.User{}, false
	}
	return s, u, true
}

func (p *Provider) ssoID(cookie string) string { return p.Box.Hash("signin-sso", cookie) }

// needsMFA reports whether this sign-in needs a second factor, and whether the user has one.
func (p *Provider) needsMFA(ctx context.Context, a app.App, q authRequest, u store.User) (need, enrolled bool, err error) {
	enrolled, err = p.TOTP.Enrolled(ctx, a, u.ID)
	if err != nil {
		return false, false, err
	}
	need = a.Settings.RequireMFA || q.MFA || (a.Settings.MFAWhenEnrolled && enrolled)
	return need, enrolled, nil
}

// noSecondFactor answers a sign-in that needs a second factor of a user who has none.
func (p *Provider) noSecondFactor(w http.ResponseWriter, r *http.Request, a app.App, q authRequest) {
	p.respondError(w, r, a, q, &authError{"access_denied", "a second factor is required and this account has no authenticator app set up"})
}

// codeGrant is what an authorization code remembers for the token endpoint.
type codeGrant struct {
	ClientID      string `json:"client_id"`
	RedirectURI   string `json:"redirect_uri"`
	SessionID     string `json:"session_id"`
	UserID        string `json:"user_id"`
	Scope         string `json:"scope"`
	Nonce         string `json:"nonce,omitempty"`
	CodeChallenge string `json:"code_challenge,omitempty"`
	NewUser       bool   `json:"new_user,omitempty"`
	Resource      string `json:"resource,omitempty"`
	Claims        string `json:"claims,omitempty"`
}

// finish ends a sign-in whose app session (sessionID) holds every factor it needs: the browser's
// single sign-on session is recorded (cookie), consent is recorded when asked, and the browser
// goes back to the app with an authorization code.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, a app.App, f flow, u store.User, sessionID string) {
	ctx := r.Context()
	now := p.Clock.Now()
	sess, err := p.Store.GetSession(ctx, sessionID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.saveSSO(ctx, w, r, f, u, sess, now); err != nil {
		p.fail(w, r, err)
		return
	}
	if f.Req.prompt("consent") {
		if err := p.Store.SaveGrant(ctx, u.ID, f.Req.ClientID, f.Req.Scope, now); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	payload, _ := json.Marshal(codeGrant{ClientID: f.Req.ClientID, RedirectURI: f.Req.RedirectURI, SessionID: sessionID, UserID: u.ID,
		Scope: f.Req.Scope, Nonce: f.Req.Nonce, CodeChallenge: f.Req.CodeChallenge, NewUser: f.NewUser, Resource: f.Req.Resource, Claims: f.Req.Claims})
	issued, err := p.Codes.Issue(ctx, otp.Issue{App: a, UserID: u.ID, Method: methodCode, Channel: "redirect",
		Identifier: "code:" + secret.NewID(), TTL: CodeTTL, Payload: payload})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.Log.Info("oidc sign-in", "app_id", a.ID, "client_id", f.Req.ClientID, "user_id", u.ID, "session_id", sessionID, "amr", sess.AMR)
	p.respond(w, r, a, f.Req, url.Values{"code": {issued.Code}})
}

// saveSSO records the browser's single sign-on session after a sign-in: the same one refreshed
// when the browser signed in with it (or the same user signed in again), a new one otherwise.
func (p *Provider) saveSSO(ctx context.Context, w http.ResponseWriter, r *http.Request, f flow, u store.User, sess store.Session, now time.Time) error {
	amr := slices.Clone(sess.AMR)
	cur, cu, live := p.currentSSO(ctx, r, now)
	if live && cu.ID == u.ID && (f.SSO == "" || f.SSO == cur.ID) {
		// The methods add up, but "mfa" is earned only by one sign-in proving two factors
		// (a step-up inherits this session's methods, so it does): two separate one-factor
		// sign-ins — an email code, later a password — never make a second factor the
		// user's own policy asks for (the authenticator) unnecessary.
		merged := slices.Clone(cur.AMR)
		for _, m := range amr {
			if !slices.Contains(merged, m) {
				merged = append(merged, m)
			}
		}
		if !slices.Contains(amr, "mfa") && sess.AuthTime.After(cur.AuthTime) {
			// A newer one-factor sign-in moves auth_time forward, and an "mfa" proved before it
			// would then pass for a recent one (max_age with acr_values=mfa): it is dropped,
			// and the next app that needs two factors steps up.
			merged = slices.DeleteFunc(merged, func(m string) bool { return m == "mfa" })
		}
		authTime := cur.AuthTime
		if sess.AuthTime.After(authTime) {
			authTime = sess.AuthTime
		}
		cur.AMR, cur.AuthTime, cur.ExpiresAt = merged, authTime, now.Add(ssoTTL)
		err := p.Store.SaveSSO(ctx, cur, sess.ID)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if live && cu.ID != u.ID {
		// Another user signs in in this browser: the previous one is signed out of it.
		if err := p.Store.EndSSO(ctx, cur.ID, now, true); err != nil {
			return err
		}
	}
	cookie := secret.NewToken()
	s := store.SSOSession{ID: p.ssoID(cookie), UserID: u.ID, AMR: amr, AuthTime: sess.AuthTime, CreatedAt: now, ExpiresAt: now.Add(ssoTTL)}
	if err := p.Store.SaveSSO(ctx, s, sess.ID); err != nil {
		return err
	}
	p.setCookie(w, ssoCookie, cookie, int(ssoTTL.Seconds()))
	return nil
}

// respond sends the browser back to the app with params (and state): a redirect with a query,
// or (response_mode form_post) a page whose form posts them.
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, a app.App, q authRequest, params url.Values) {
	if q.State != "" {
		params.Set("state", q.State)
	}
	if q.FormPost {
		p.formPost(w, r, a, q, params)
		return
	}
	target, err := url.Parse(q.RedirectURI)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	query := target.Query()
	for k, vs := range params {
		query[k] = vs
	}
	target.RawQuery = query.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// respondError sends an error of OIDC Core §3.1.2.6 back to the app.
func (p *Provider) respondError(w http.ResponseWriter, r *http.Request, a app.App, q authRequest, e *authError) {
	p.Log.Info("oidc authorization error", "client_id", q.ClientID, "error", e.Code)
	p.respond(w, r, a, q, url.Values{"error": {e.Code}, "error_description": {e.Description}})
}

// fail answers an unexpected error with a page; the details go to the log only.
func (p *Provider) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		p.problem(w, r, http.StatusServiceUnavailable, "Sign-in is unavailable for a moment", "Wait a few seconds, then try again.")
		return
	}
	p.Log.Error("oidc sign-in failed", "err", err)
	p.problem(w, r, http.StatusInternalServerError, "Something went wrong", "Latch could not finish this step. Go back to the app and try again.")
}

// PKCE S256 of a verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// hintEmail and hintPhone prefill the identifier fields from login_hint.
func hintEmail(h string) string {
	if e, problem := user.NormalizeEmail(h); problem == "" {
		return e
	}
	return ""
}

func hintPhone(h string) string {
	if strings.Contains(h, "@") {
		return ""
	}
	if ph, problem := user.NormalizePhone(h); problem == "" {
		return ph
	}
	return ""
}
