package session_test

import (
	"context"
	"testing"

	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/user"
)

// TestIDTokenOnlyIssuesNoRefreshToken: a login that hands out only an ID token (the hosted
// flow's response_type id_token) gets tokens and a session, and no refresh token.
func TestIDTokenOnlyIssuesNoRefreshToken(t *testing.T) {
	n := sqliteNode(t)
	ctx := context.Background()
	email := uniqueEmail()
	u, err := n.Users.Create(ctx, user.Input{Email: &email})
	if err != nil {
		t.Fatal(err)
	}
	for _, idOnly := range []bool{false, true} {
		tok, err := n.Sessions.Complete(ctx, session.Login{App: n.App, ClientID: n.ClientID, User: u, Method: "eotp", IDTokenOnly: idOnly})
		if err != nil {
			t.Fatal(err)
		}
		if tok.IDToken == "" || tok.SessionID == "" {
			t.Fatalf("idOnly=%v: %+v", idOnly, tok)
		}
		if got := tok.RefreshToken != ""; got == idOnly {
			t.Fatalf("idOnly=%v: refresh token issued = %v", idOnly, got)
		}
		if live, err := n.Sessions.SessionActive(ctx, tok.SessionID); err != nil || !live {
			t.Fatalf("idOnly=%v: session not live: %v %v", idOnly, live, err)
		}
	}
}
