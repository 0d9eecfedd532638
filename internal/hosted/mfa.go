package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/otp"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
)

// TieCookie is the cookie that ties a browser to the session its require_mfa login started,
// for the result URI of the second factor; TiePath is where the browser sends it.
const (
	TieCookie  = "latch_mfa"
	TiePath    = "/cis/v1/auth/hosted"
	tiePurpose = "hosted-mfa-tie"
)

// secondFactorNames are the hosted second factors by the amr of the first (Mosaic's names:
// "email" is a magic link), plus a TOTP or recovery code joined by session_id from a backend.
var secondFactorNames = map[string]string{"eml": "email", "eotp": "email-otp", "sms": "sms"}

// tie is the tie cookie's value for a session: its id and a keyed hash of it.
func (f *Flow) tie(sessionID string) string {
	return sessionID + "." + f.Codes.MAC(tiePurpose, sessionID)
}

// tiedSession is the session a tie cookie names, "" when the cookie is absent or forged.
func (f *Flow) tiedSession(tie string) string {
	id, mac, ok := strings.Cut(tie, ".")
	if !ok || id == "" || !secret.Equal(mac, f.Codes.MAC(tiePurpose, id)) {
		return ""
	}
	return id
}

// mfaStep is the GET on the result URI (or emailed link) of a require_mfa login. It uses the
// code up at once (no code is ever exchanged for a factor that needs another).
//
//   - In a browser tied (by the cookie) to a session of the same user that waits for a second
//     factor, this login is that factor: it joins the session (amr gets mfa) and the browser
//     goes to redirect_uri with a new code for that session (or an ID token).
//   - Otherwise it is a first factor: a session is started that yields no token until a second
//     factor joins it (a TOTP or recovery code from a backend, with session_id; or this flow on
//     another channel in this browser), and the browser goes to
//     redirect_uri?error=mfa_required&error_description=…&session_id=… with the tie cookie.
//
// A mail scanner that follows a require_mfa link uses it up, as the browser would.
func (f *Flow) mfaStep(ctx context.Context, a app.App, row store.Code, g grant, tie string) (Redirection, error) {
	u, created, err := f.user(ctx, g)
	if err != nil {
		return Redirection{}, err
	}
	login := session.Login{App: a, ClientID: g.ClientID, User: u, Method: g.AMR, Resource: g.Resource, Claims: g.Claims,
		ApprovalData: g.ApprovalData, Nonce: g.Nonce, NewUser: created, Uses: g.uses(f.Codes.UsesHighEntropy(row))}
	if sid := f.tiedSession(tie); sid != "" {
		joined := login
		joined.SessionID, joined.SaveOnly = sid, true
		_, err := f.Sessions.Complete(ctx, joined)
		var ae *apierr.Error
		switch {
		case err == nil:
			f.Metrics.Login("hosted_"+g.AMR, "ok")
			return f.sessionRedirect(ctx, a, g, u, sid)
		case errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrLocked):
			return Redirection{}, nil
		case !errors.As(err, &ae):
			return Redirection{}, err
		}
		// Another user's session, an ended one, or the same factor twice: this login starts anew.
	}
	login.MFAPending = true
	tok, err := f.Sessions.Complete(ctx, login)
	if errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrLocked) {
		return Redirection{}, nil
	}
	if err != nil {
		return Redirection{}, err
	}
	f.Metrics.Login("hosted_"+g.AMR, "mfa_pending")
	var others []string
	for _, amr := range []string{"eml", "sms", "eotp"} {
		if amr != g.AMR {
			others = append(others, secondFactorNames[amr])
		}
	}
	others = append(others, "totp")
	target := magiclink.AppendQuery(g.RedirectURI, "error", "mfa_required",
		"error_description", "A second factor is required: "+strings.Join(others, ","), "session_id", tok.SessionID, "state", g.State)
	return Redirection{Target: target, OK: true, Tie: f.tie(tok.SessionID)}, nil
}

// sessionRedirect sends the browser of a completed require_mfa login back to the app: with a new
// code that stands for the session (exchanged like any other), or with its ID token.
func (f *Flow) sessionRedirect(ctx context.Context, a app.App, g grant, u store.User, sessionID string) (Redirection, error) {
	if g.ResponseType == "id_token" {
		tok, err := f.Sessions.Complete(ctx, session.Login{App: a, ClientID: g.ClientID, User: u, SessionID: sessionID,
			Resource: g.Resource, Claims: g.Claims, ApprovalData: g.ApprovalData, Nonce: g.Nonce, IDTokenOnly: true})
		if err != nil {
			return Redirection{}, err
		}
		return Redirection{Target: magiclink.AppendQuery(g.RedirectURI, "id_token", tok.IDToken, "state", g.State), OK: true}, nil
	}
	next := grant{ClientID: g.ClientID, RedirectURI: g.RedirectURI, UserID: u.ID, Resource: g.Resource, Claims: g.Claims,
		ApprovalData: g.ApprovalData, State: g.State, Nonce: g.Nonce, ResponseType: g.ResponseType, SessionID: sessionID}
	payload, _ := json.Marshal(next)
	issued, err := f.Codes.Issue(ctx, otp.Issue{App: a, UserID: u.ID, Method: MethodAuthCode, Channel: "redirect",
		Identifier: "code:" + secret.NewID(), TTL: CodeTTL, Payload: payload})
	if err != nil {
		return Redirection{}, err
	}
	return Redirection{Target: magiclink.AppendQuery(g.RedirectURI, "code", issued.Code, "state", g.State), OK: true}, nil
}
