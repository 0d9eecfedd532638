package totp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// verdict is the outcome of checking a code against a user's authenticators.
type verdict int

const (
	verdictAccepted      verdict = iota
	verdictWrong                 // no active authenticator produces this code in the window
	verdictReplayed              // the code's step was already accepted (or a concurrent request won it)
	verdictChallengeGone         // the transaction challenge was consumed or expired meanwhile
)

// match is an authenticator whose code matched, and the step it matched.
type match struct {
	auth store.TOTPAuthenticator
	step int64
}

// matches checks code against every active authenticator (all of them, so the time taken does
// not depend on which one matched) with the parameters each was registered with.
func (s *Service) matches(auths []store.TOTPAuthenticator, code string, now time.Time) ([]match, error) {
	var out []match
	for _, a := range auths {
		if !a.Active() {
			continue
		}
		raw, err := s.open(a)
		if err != nil {
			return nil, err
		}
		if step, ok := authParams(a).Match(raw, code, now, Skew); ok {
			out = append(out, match{auth: a, step: step})
		}
	}
	return out, nil
}

// accept checks code and records the matched step with the one atomic conditional update of
// the store (consuming challengeID in the same transaction when it is set). Of concurrent
// requests carrying one code, exactly one is accepted, on any number of nodes.
func (s *Service) accept(ctx context.Context, auths []store.TOTPAuthenticator, code string, now time.Time, challengeID string) (store.TOTPAuthenticator, verdict, error) {
	ms, err := s.matches(auths, code, now)
	if err != nil {
		return store.TOTPAuthenticator{}, 0, err
	}
	if len(ms) == 0 {
		return store.TOTPAuthenticator{}, verdictWrong, nil
	}
	for _, m := range ms {
		err := s.store.AcceptTOTPStep(ctx, m.auth.ID, m.step, now, challengeID)
		switch {
		case err == nil:
			return m.auth, verdictAccepted, nil
		case errors.Is(err, store.ErrUsed):
			continue // another authenticator may match the same code (a chance collision)
		case errors.Is(err, store.ErrChallengeGone):
			return store.TOTPAuthenticator{}, verdictChallengeGone, nil
		default:
			return store.TOTPAuthenticator{}, 0, fmt.Errorf("accept step: %w", err)
		}
	}
	s.log.Warn("totp replay refused", "app_id", ms[0].auth.AppID, "user_id", ms[0].auth.UserID, "method", Method,
		"authenticator_id", ms[0].auth.ID)
	s.metrics.Login(Method, "replayed")
	return store.TOTPAuthenticator{}, verdictReplayed, nil
}
