package totp

import (
	"time"

	"github.com/latch-auth/latch/internal/store"
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
