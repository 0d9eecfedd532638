package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// createUsers creates the pool through POST /cis/v1/users; a user that already exists (409) is
// looked up and reused.
func (r *runner) createUsers(ctx context.Context) error {
	n := r.cfg.Users
	r.users = make([]*benchUser, n)
	for i := range r.users {
		r.users[i] = &benchUser{email: fmt.Sprintf("bench-%s-%d@bench.latch.test", r.runID, i), lastStep: -1}
		if r.cfg.Flow == FlowPassword {
			r.users[i].password = fmt.Sprintf("lantern %s orchard %d velvet", r.runID, i)
		}
	}
	r.logf("creating %d users (bench-%s-N@bench.latch.test)", n, r.runID)
	return r.parallel(ctx, "users", n, r.setupWorkers(), func(ctx context.Context, c *conn, i int) error {
		u := r.users[i]
		c.jsonBody("email", u.email)
		if u.password != "" {
			// A permanent password credential, created with the user in one request.
			c.req.Truncate(c.req.Len() - 1)
			c.req.WriteString(`,"credentials":{"password":`)
			appendJSONString(&c.req, u.password)
			c.req.WriteString(`,"force_replace":false}}`)
		}
		err := c.postJSON(ctx, "/cis/v1/users", http.StatusCreated, nil)
		var oe *opError
		if errors.As(err, &oe) && len(oe.key) >= 3 && oe.key[:3] == "409" {
			bearer, terr := c.tok.header(ctx, c.api)
			if terr != nil {
				return terr
			}
			_, err = c.do(ctx, c.hc, http.MethodGet, "/cis/v1/users/email/"+url.PathEscape(u.email), "", bearer, nil, http.StatusOK, nil)
		}
		if err != nil {
			return fmt.Errorf("create user %s: %w", u.email, err)
		}
		return nil
	})
}

// otpLogin logs u in by backend OTP with the direct channel: send, then authenticate.
func (c *conn) otpLogin(ctx context.Context, u *benchUser, tr *tokenResponse) error {
	c.jsonBody("channel", "direct", "identifier_type", "email", "identifier", u.email)
	var sent struct {
		Code string `json:"code"`
	}
	if err := c.postJSON(ctx, "/cis/v1/auth/otp/send", http.StatusOK, &sent); err != nil {
		return err
	}
	if sent.Code == "" {
		return &opError{key: "200 no_code", detail: "otp send with channel direct answered without a code"}
	}
	c.jsonBody("passcode", sent.Code, "identifier_type", "email", "identifier", u.email)
	if err := c.postJSON(ctx, "/cis/v1/auth/otp/authenticate", http.StatusOK, tr); err != nil {
		return err
	}
	return tr.check(false)
}

func opClientCredentials(ctx context.Context, w *worker) (time.Duration, error) {
	var tr tokenResponse
	t0 := time.Now()
	err := w.postForm(ctx, "/oidc/token", w.api.credsForm, http.StatusOK, &tr)
	d := time.Since(t0)
	if err == nil {
		err = tr.check(false)
	}
	return d, err
}

func opOTP(ctx context.Context, w *worker) (time.Duration, error) {
	u := w.nextUser()
	var tr tokenResponse
	t0 := time.Now()
	err := w.otpLogin(ctx, u, &tr)
	return time.Since(t0), err
}

func opMagicLink(ctx context.Context, w *worker) (time.Duration, error) {
	u := w.nextUser()
	t0 := time.Now()
	w.jsonBody("identifier_type", "email", "identifier", u.email, "redirect_uri", w.r.cfg.RedirectURI, "channel", "direct")
	var sent struct {
		Code string `json:"code"`
	}
	if err := w.postJSON(ctx, "/cis/v1/auth/link/email/send", http.StatusOK, &sent); err != nil {
		return time.Since(t0), err
	}
	if sent.Code == "" {
		return time.Since(t0), &opError{key: "200 no_code", detail: "magic link send with channel direct answered without a code"}
	}
	w.jsonBody("code", sent.Code)
	var tr tokenResponse
	err := w.postJSON(ctx, "/cis/v1/auth/link/email/authenticate", http.StatusOK, &tr)
	d := time.Since(t0)
	if err == nil {
		err = tr.check(false)
	}
	return d, err
}

// opPassword is the backend password login: /cis/v1/auth/password/authenticate by email (the
// server hashes the password with argon2id on every login, the cost this flow measures).
func opPassword(ctx context.Context, w *worker) (time.Duration, error) {
	u := w.nextUser()
	w.jsonBody("username_type", "email", "username", u.email, "password", u.password)
	var tr tokenResponse
	t0 := time.Now()
	err := w.postJSON(ctx, "/cis/v1/auth/password/authenticate", http.StatusOK, &tr)
	d := time.Since(t0)
	if err == nil {
		err = tr.check(false)
	}
	return d, err
}

// setupRefresh logs each worker in once by OTP to start its session.
func setupRefresh(ctx context.Context, r *runner) error {
	r.logf("logging in %d sessions", len(r.workers))
	return r.parallel(ctx, "sessions", len(r.workers), r.setupWorkers(), func(ctx context.Context, c *conn, i int) error {
		w := r.workers[i]
		var tr tokenResponse
		err := w.otpLogin(ctx, w.nextUser(), &tr)
		if err == nil {
			err = tr.check(true)
		}
		if err != nil {
			return fmt.Errorf("otp login for the refresh flow: %w", err)
		}
		w.refresh = tr.RefreshToken
		return nil
	})
}

// opRefresh rotates the worker's refresh token. Refresh tokens rotate on every use and reusing an old
// one revokes the session, so after any failure the worker starts a new session (untimed) first.
func opRefresh(ctx context.Context, w *worker) (time.Duration, error) {
	if w.refresh == "" {
		var tr tokenResponse
		err := w.otpLogin(ctx, w.nextUser(), &tr)
		if err == nil {
			err = tr.check(true)
		}
		if err != nil {
			return 0, err
		}
		w.refresh = tr.RefreshToken
	}
	t0 := time.Now()
	w.jsonBody("refresh_token", w.refresh)
	var tr tokenResponse
	err := w.postJSON(ctx, "/cis/v1/auth/token/refresh", http.StatusOK, &tr)
	d := time.Since(t0)
	if err == nil {
		err = tr.check(true)
	}
	if err != nil {
		w.refresh = ""
		return d, err
	}
	w.refresh = tr.RefreshToken
	return d, nil
}

// setupTOTP logs every user in by OTP and registers a TOTP for them with their user access token.
func setupTOTP(ctx context.Context, r *runner) error {
	r.logf("registering a TOTP for %d users", len(r.users))
	return r.parallel(ctx, "totp", len(r.users), r.setupWorkers(), func(ctx context.Context, c *conn, i int) error {
		u := r.users[i]
		var tr tokenResponse
		if err := c.otpLogin(ctx, u, &tr); err != nil {
			return fmt.Errorf("otp login of %s: %w", u.email, err)
		}
		c.req.Reset()
		c.req.WriteString("{}")
		var reg struct {
			Secret string `json:"secret"`
			URI    string `json:"uri"`
		}
		if err := c.postJSONAs(ctx, "Bearer "+tr.AccessToken, "/cis/v1/users/me/totp", http.StatusCreated, &reg); err != nil {
			return fmt.Errorf("register totp for %s: %w", u.email, err)
		}
		params, uriSecret, err := parseKeyURI(reg.URI)
		if err != nil {
			return err
		}
		secret := reg.Secret
		if secret == "" {
			secret = uriSecret
		}
		if u.totpKey, err = decodeSecret(secret); err != nil {
			return err
		}
		u.totp = params
		return nil
	})
}

// opTOTP logs in a user of this worker with a time step it has not used yet (a step works once per
// authenticator). Latch accepts the previous, current and next step; the bench uses the current and
// the next one (never the previous: near a step boundary the server may already be a step ahead),
// so a fresh user logs in twice per period. When no user has a usable step, it waits (untimed).
func opTOTP(ctx context.Context, w *worker) (time.Duration, error) {
	for {
		now := time.Now()
		var u *benchUser
		for range len(w.users) {
			c := w.nextUser()
			if c.lastStep < c.totp.step(now)+1 {
				u = c
				break
			}
		}
		if u == nil {
			w.starved++
			wake := time.Time{}
			for _, c := range w.users {
				t := time.Unix((c.lastStep+1)*int64(c.totp.Period), 0)
				if wake.IsZero() || t.Before(wake) {
					wake = t
				}
			}
			if !wake.Before(w.r.deadline) {
				wake = w.r.deadline // idle to the end, so the run still lasts its duration
			}
			select {
			case <-ctx.Done():
				return 0, errSkipped
			case <-time.After(time.Until(wake)):
			}
			if !time.Now().Before(w.r.deadline) {
				return 0, errSkipped
			}
			continue
		}
		step := max(u.totp.step(now), u.lastStep+1)
		code := totpCode(u.totpKey, step, u.totp)
		u.lastStep = recordedStep(func(s int64) string { return totpCode(u.totpKey, s, u.totp) }, code, step, u.totp.step(now))
		w.jsonBody("token", code, "identifier_type", "email", "identifier", u.email)
		var tr tokenResponse
		t0 := time.Now()
		err := w.postJSON(ctx, "/cis/v1/auth/totp/authenticate", http.StatusOK, &tr)
		d := time.Since(t0)
		if err == nil {
			err = tr.check(false)
		}
		return d, err
	}
}

// recordedStep is the step the server records when it accepts code, sent for step at a time whose
// step is cur. The server takes the latest step of its window whose code matches, so should a
// later step's code be the same (a chance collision, about one in a million) it records that one,
// and the bench must not send that step again: it would be a replay. The window reaches cur+2, in
// case a step boundary passes while the request is on its way.
func recordedStep(codeAt func(int64) string, code string, step, cur int64) int64 {
	for s := cur + 2; s > step; s-- {
		if codeAt(s) == code {
			return s
		}
	}
	return step
}

var (
	latchCodeRE = regexp.MustCompile(`Your code:\s*([0-9]{4,10})\b`) // Latch's plain-text email
	sixDigitRE  = regexp.MustCompile(`\b[0-9]{6}\b`)
	digitsRE    = regexp.MustCompile(`\b[0-9]{4,10}\b`)
)

// codeInText finds a one-time code in an email's text: Latch's "Your code: N", else the first
// six-digit number, else the first number of 4 to 10 digits.
func codeInText(text string) string {
	if m := latchCodeRE.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	if c := sixDigitRE.FindString(text); c != "" {
		return c
	}
	return digitsRE.FindString(text)
}

// opHosted runs the hosted (frontend) email OTP flow as a browser and backend would: send the OTP
// for a redirect URI, validate it, follow the returned URI to the redirect with a code, and exchange
// the code at /oidc/token. EXPERIMENTAL: the code comes from the send answer when the server honours
// channel "direct", else from the dev outbox (dev mode only).
func opHosted(ctx context.Context, w *worker) (time.Duration, error) {
	u := w.nextUser()
	t0 := time.Now()
	fail := func(err error) (time.Duration, error) { return time.Since(t0), err }
	w.jsonBody("email", u.email, "redirect_uri", w.r.cfg.RedirectURI, "channel", "direct")
	var sent struct {
		Code string `json:"code"`
	}
	if err := w.postJSON(ctx, "/cis/v1/auth/otp/email", http.StatusOK, &sent); err != nil {
		return fail(err)
	}
	code := sent.Code
	if code == "" {
		var msgs []struct {
			Text string `json:"text"`
		}
		if _, err := w.do(ctx, w.hc, http.MethodGet, "/dev/outbox.json?limit=1&to="+url.QueryEscape(u.email), "", "", nil, http.StatusOK, &msgs); err != nil {
			return fail(err)
		}
		if len(msgs) > 0 {
			code = codeInText(msgs[0].Text)
		}
		if code == "" {
			return fail(&opError{key: "200 no_code", detail: "no code in the send answer or the dev outbox"})
		}
	}
	w.jsonBody("email", u.email, "passcode", code)
	var val struct {
		Result string `json:"result"`
	}
	if err := w.postJSON(ctx, "/cis/v1/auth/otp/email/validation", http.StatusOK, &val); err != nil {
		return fail(err)
	}
	target, err := url.Parse(w.base + "/")
	if err == nil {
		target, err = target.Parse(val.Result)
	}
	if err != nil || val.Result == "" {
		return fail(&opError{key: "200 bad_result", detail: "validation result is not a URI: " + val.Result})
	}
	resp, err := w.do(ctx, w.noRedirect, http.MethodGet, target.String(), "", "", nil, http.StatusFound, nil)
	if err != nil {
		return fail(err)
	}
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		return fail(&opError{key: "302 no_code", detail: "redirect has no code: " + resp.Header.Get("Location")})
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {w.r.cfg.RedirectURI},
		"client_id": {w.clientID}, "client_secret": {w.clientSecret}}
	var tr tokenResponse
	err = w.postForm(ctx, "/oidc/token", form.Encode(), http.StatusOK, &tr)
	d := time.Since(t0)
	if err == nil {
		err = tr.check(false)
	}
	return d, err
}
