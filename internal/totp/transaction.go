package totp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/device"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/session"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// challengePurpose separates challenge hashes from every other keyed hash.
const challengePurpose = "totp-challenge"

// StartTransactionRequest is the body of POST /v1/auth/totp/transaction/start.
type StartTransactionRequest struct {
	ApprovalData   map[string]any `json:"approval_data"`
	IdentifierType string         `json:"identifier_type"`
	Identifier     string         `json:"identifier"`
	DeviceID       string         `json:"device_id"`
}

// TransactionStarted is the 200 body of transaction/start.
type TransactionStarted struct {
	ApprovalData map[string]any `json:"approval_data"`
	Challenge    string         `json:"challenge"`
}

func errTransactionGone() *apierr.Error {
	return apierr.InvalidCredentials("Transaction expired or was not started: call transaction/start again")
}

// challengeHash binds a challenge to its app and user.
func (s *Service) challengeHash(appID, userID, challenge string) string {
	return s.box.Hash(challengePurpose, appID+"\x00"+userID+"\x00"+challenge)
}

// StartTransaction binds approval_data to the user and returns the 6-digit challenge shown to
// them. The challenge lives ChallengeTTL and is consumed by one transaction authenticate.
func (s *Service) StartTransaction(ctx context.Context, a app.App, req StartTransactionRequest) (TransactionStarted, error) {
	if req.ApprovalData == nil {
		return TransactionStarted{}, apierr.Invalid("approval_data", "is required")
	}
	if err := session.ValidateApprovalData(req.ApprovalData); err != nil {
		return TransactionStarted{}, err
	}
	if err := device.ValidID(req.DeviceID); err != nil {
		return TransactionStarted{}, err
	}
	u, err := s.users.Find(ctx, req.IdentifierType, req.Identifier)
	if err != nil {
		return TransactionStarted{}, err
	}
	if u.Status != user.StatusActive {
		return TransactionStarted{}, apierr.UserNotActive()
	}
	if _, err := s.activeAuthenticators(ctx, a, u.ID); err != nil {
		return TransactionStarted{}, err
	}
	challenge, err := secret.NumericCode(s.rand, ChallengeDigits)
	if err != nil {
		return TransactionStarted{}, fmt.Errorf("challenge: %w", err)
	}
	data, err := json.Marshal(req.ApprovalData)
	if err != nil {
		return TransactionStarted{}, fmt.Errorf("approval data: %w", err)
	}
	now := s.clock.Now()
	c := store.TOTPChallenge{ID: secret.NewID(), AppID: a.ID, UserID: u.ID, ChallengeHash: s.challengeHash(a.ID, u.ID, challenge),
		ApprovalData: data, CreatedAt: now, ExpiresAt: now.Add(ChallengeTTL)}
	if err := s.store.AddTOTPChallenge(ctx, c); err != nil {
		return TransactionStarted{}, fmt.Errorf("add challenge: %w", err)
	}
	s.log.Info("totp transaction started", "app_id", a.ID, "user_id", u.ID)
	return TransactionStarted{ApprovalData: req.ApprovalData, Challenge: challenge}, nil
}

// AuthenticateTransaction signs the user's live transaction with a TOTP code: it needs the
// challenge (req.Challenge, or the newest live one), a valid code (same replay and lockout rules
// as Authenticate), consumes the challenge and the code's step in one transaction, and returns
// tokens whose ID token carries the transaction's approval_data.
func (s *Service) AuthenticateTransaction(ctx context.Context, a app.App, clientID string, req AuthenticateRequest) (session.Tokens, error) {
	return s.login(ctx, a, clientID, req, true)
}

// liveChallenge returns the challenge a transaction authenticate signs.
func (s *Service) liveChallenge(ctx context.Context, a app.App, userID, challenge string, now time.Time) (store.TOTPChallenge, error) {
	hash := ""
	if challenge != "" {
		hash = s.challengeHash(a.ID, userID, challenge)
	}
	c, err := s.store.LiveTOTPChallenge(ctx, a.ID, userID, hash, now)
	if errors.Is(err, store.ErrNotFound) {
		return c, errTransactionGone()
	}
	if err != nil {
		return c, fmt.Errorf("live challenge: %w", err)
	}
	return c, nil
}
