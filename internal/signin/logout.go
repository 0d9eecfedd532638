package signin

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"

	"github.com/latch-auth/latch/internal/app"
)

// EndSession serves GET and POST /cis/oidc/session/end (OIDC RP-Initiated Logout): it ends the
// browser's single sign-on session and every app session signed in through it (and the session
// an id_token_hint names), then sends the browser to post_logout_redirect_uri (with state) only
// when it is one of the client's app's redirect URIs; otherwise it shows a "signed out" page.
func (p *Provider) EndSession(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			p.problem(w, r, http.StatusBadRequest, "This sign-out request cannot be read", "The request was malformed.")
			return
		}
		v = r.PostForm
	}
	ctx := r.Context()
	now := p.Clock.Now()
	clientID := v.Get("client_id")
	var hintSession, hintUser string
	hint := v.Get("id_token_hint")
	if hint != "" {
		claims, err := p.Signer.VerifyHint(hint)
		if err != nil {
			p.problem(w, r, http.StatusBadRequest, "This sign-out request cannot be used", "The app sent an ID token (id_token_hint) that this server did not issue.")
			return
		}
		if clientID != "" && !slices.Contains(claims.Audience, clientID) {
			p.problem(w, r, http.StatusBadRequest, "This sign-out request cannot be used", "The ID token (id_token_hint) was not issued to the app named by client_id.")
			return
		}
		if clientID == "" && len(claims.Audience) > 0 {
			clientID = claims.Audience[0]
		}
		hintSession, hintUser = claims.SessionID, claims.Subject
	}
	var a app.App
	known := false
	if clientID != "" {
		c, ap, err := p.Apps.Lookup(ctx, clientID)
		if err == nil && c.AppID == ap.ID {
			a, known = ap, true
		}
	}
	post := v.Get("post_logout_redirect_uri")
	if post != "" && (!known || !a.AllowsRedirect(post)) {
		p.problem(w, r, http.StatusBadRequest, "This sign-out request cannot be used",
			"The address the app asked to return to after signing out (post_logout_redirect_uri) is not registered for it, or the app is not named (client_id or id_token_hint). You were not signed out; go back to the app.")
		return
	}
	// Without an ID token to show the app asked for it, a sign-out is confirmed by the person (a
	// button on Latch's page, bound to this browser), so another site cannot sign them out.
	if hint == "" && !p.logoutConfirmed(r, v) {
		d := pageData{Page: "signin-logout", Title: "Sign out", AppName: "Latch", Action: EndPath, Confirm: p.logoutToken(w, r),
			Params: map[string]string{"client_id": clientID, "post_logout_redirect_uri": post, "state": v.Get("state")}}
		if known {
			brand(a, &d)
		} else {
			brand(app.App{}, &d)
			d.AppName = "Latch"
		}
		p.write(w, r, "logout", http.StatusOK, d, "")
		return
	}
	if c, err := r.Cookie(ssoCookie); err == nil && c.Value != "" && len(c.Value) <= 64 {
		id := p.ssoID(c.Value)
		s, err := p.Store.GetSSO(ctx, id)
		if err == nil && (hintUser == "" || s.UserID == hintUser) {
			if err := p.Store.EndSSO(ctx, id, now, true); err != nil {
				p.fail(w, r, err)
				return
			}
		}
	}
	p.setCookie(w, ssoCookie, "", -1)
	if hintSession != "" {
		if err := p.Store.EndSession(ctx, hintSession, now); err == nil {
			p.Log.Info("oidc logout ended the hinted session", "session_id", hintSession)
		}
	}
	p.Log.Info("oidc logout", "client_id", clientID)
	if post != "" {
		target, err := url.Parse(post)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if st := v.Get("state"); st != "" {
			q := target.Query()
			q.Set("state", st)
			target.RawQuery = q.Encode()
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, target.String(), http.StatusFound)
		return
	}
	name := "Latch"
	if known {
		name = a.Name
	}
	d := pageData{Page: "signin-signed-out", Title: "Signed out", Heading: "You are signed out", Lines: []string{
		"You are signed out of " + name + " and of every app you signed in to with this browser. You can close this page.",
	}}
	brand(a, &d) // the zero app when unknown: Latch's default colours
	d.AppName = name
	p.write(w, r, "message", http.StatusOK, d, "")
}

// logoutToken is the value the sign-out confirmation form carries: a keyed hash of this browser's
// cookie, which another site cannot know.
func (p *Provider) logoutToken(w http.ResponseWriter, r *http.Request) string {
	return p.Box.Hash("signin-logout", p.browser(w, r))
}

func (p *Provider) logoutConfirmed(r *http.Request, v url.Values) bool {
	b := p.browserHash(r)
	return r.Method == http.MethodPost && b != "" && subtle.ConstantTimeCompare([]byte(v.Get("confirm")), []byte(p.Box.Hash("signin-logout", b))) == 1
}
