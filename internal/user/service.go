package user

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/clock"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
)

// StateKey is the identifier under which a user's codes, limits and lockouts are kept, so that a
// code sent by email can be presented with any of the user's identifiers.
func StateKey(userID string) string { return "user:" + userID }

// Statuses of a user.
const (
	StatusActive   = "Active"
	StatusDisabled = "Disabled"
	StatusPending  = "Pending"
)

// Name is a user's name (ApiUserName).
type Name struct {
	Title      string `json:"title,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	MiddleName string `json:"middle_name,omitempty"`
}

// Profile holds the ApiUser attributes Latch stores but does not interpret.
type Profile struct {
	Name           *Name          `json:"name,omitempty"`
	Birthday       string         `json:"birthday,omitempty"`
	Picture        string         `json:"picture,omitempty"`
	Language       string         `json:"language,omitempty"`
	ExternalUserID string         `json:"external_user_id,omitempty"`
	CustomData     map[string]any `json:"custom_data,omitempty"`
	// Apps holds what belongs to each application that wrote it, by app id: only that app's
	// client token sees or changes it (product.md, users and sessions).
	Apps map[string]AppData `json:"app_data,omitempty"`
}

// AppData is the part of a user that belongs to one application.
type AppData struct {
	ExternalAccountID string         `json:"external_account_id,omitempty"`
	CustomAppData     map[string]any `json:"custom_app_data,omitempty"`
}

// appOwned are the ApiUser fields that belong to the application that wrote them. (Profiles
// stored before they did kept them at the top level; those are shown to no application.)
var appOwned = []string{"app_data", "external_account_id", "custom_app_data"}

// Input is the body of create and update (ApiCreateUserInput / ApiUpdateUserInput). A nil
// field is left unchanged by update.
type Input struct {
	Email             *string        `json:"email"`
	PhoneNumber       *string        `json:"phone_number"`
	Username          *string        `json:"username"`
	Status            *string        `json:"status"`
	Name              *Name          `json:"name"`
	Birthday          *string        `json:"birthday"`
	Picture           *string        `json:"picture"`
	Language          *string        `json:"language"`
	ExternalUserID    *string        `json:"external_user_id"`
	ExternalAccountID *string        `json:"external_account_id"`
	CustomData        map[string]any `json:"custom_data"`
	CustomAppData     map[string]any `json:"custom_app_data"`
	// AppID is the application writing (not a JSON field): external_account_id and
	// custom_app_data are its own. With none (the CLI) they cannot be set.
	AppID string `json:"-"`
}

// Store is what the user service persists: users, and the ending of an inactive user's sessions.
type Store interface {
	store.Users
	// GetPassword tells whether a user has a password (which lets them have neither email nor phone).
	GetPassword(ctx context.Context, userID string) (store.PasswordCredential, error)
	EndUserSessions(ctx context.Context, userID string, now time.Time) (int, error)
	EndUserAppSessions(ctx context.Context, userID, appID string, now time.Time) (int, error)
}

// Service manages users.
type Service struct {
	store  Store
	clock  clock.Clock
	tenant func(ctx context.Context) (string, error)
}

// NewService returns a Service; tenant tells the tenant id new users belong to.
func NewService(s Store, c clock.Clock, tenant func(ctx context.Context) (string, error)) *Service {
	return &Service{store: s, clock: c, tenant: tenant}
}

// Create validates in and creates a user (201), or returns the 400 or 409 the API answers.
func (s *Service) Create(ctx context.Context, in Input) (store.User, error) {
	u, err := s.Prepare(ctx, in, false)
	if err != nil {
		return store.User{}, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return store.User{}, Conflict(err)
	}
	return u, nil
}

// Prepare validates in and returns the new user it describes, without storing it: for a
// creation that stores the user with something else in one transaction (a password). A user
// needs an email or a phone number, or — withPassword — a username or one of those.
func (s *Service) Prepare(ctx context.Context, in Input, withPassword bool) (store.User, error) {
	now := s.clock.Now()
	tid, err := s.tenant(ctx)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{ID: secret.NewID(), TenantID: tid, Status: StatusActive, CreatedAt: now, UpdatedAt: now, StatusChangeAt: now}
	if err := apply(&u, in, now); err != nil {
		return store.User{}, err
	}
	switch {
	case u.Email != "" || u.Phone != "":
	case withPassword && u.Username != "":
	case withPassword:
		return store.User{}, apierr.Invalid("username", "a username, an email or a phone_number is required")
	default:
		return store.User{}, apierr.Invalid("email", "an email or a phone_number is required")
	}
	return u, nil
}

// Conflict is the users API's 409 for store.ErrConflict (an identifier is taken), err otherwise.
func Conflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &apierr.Error{Status: 409, Message: "User with this email, phone number or username already exists", TSCode: "identifier_taken"}
	}
	return err
}

// apply validates in and writes its non-nil fields into u.
func apply(u *store.User, in Input, now time.Time) error {
	if in.Email != nil {
		if *in.Email == "" {
			u.Email, u.EmailVerified = "", false
		} else {
			e, problem := NormalizeEmail(*in.Email)
			if problem != "" {
				return apierr.Invalid("email", problem)
			}
			if e != u.Email {
				u.Email, u.EmailVerified = e, false
			}
		}
	}
	if in.PhoneNumber != nil {
		if *in.PhoneNumber == "" {
			u.Phone, u.PhoneVerified = "", false
		} else {
			p, problem := NormalizePhone(*in.PhoneNumber)
			if problem != "" {
				return apierr.Invalid("phone_number", problem)
			}
			if p != u.Phone {
				u.Phone, u.PhoneVerified = p, false
			}
		}
	}
	if in.Username != nil {
		if *in.Username == "" {
			u.Username = ""
		} else {
			n, problem := NormalizeUsername(*in.Username)
			if problem != "" {
				return apierr.Invalid("username", problem)
			}
			u.Username = n
		}
	}
	if in.Status != nil {
		switch *in.Status {
		case StatusActive, StatusDisabled, StatusPending:
		default:
			return apierr.Invalid("status", "must be one of Active, Disabled, Pending")
		}
		if *in.Status != u.Status {
			u.Status, u.StatusChangeAt = *in.Status, now
		}
	}
	var p Profile
	if len(u.Profile) > 0 {
		if err := json.Unmarshal(u.Profile, &p); err != nil {
			return fmt.Errorf("stored profile: %w", err)
		}
	}
	if err := mergeProfile(&p, in); err != nil {
		return err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	u.Profile = raw
	return nil
}

func mergeProfile(p *Profile, in Input) error {
	str := func(dst *string, v *string, field string, max int) error {
		if v == nil {
			return nil
		}
		if len(*v) > max {
			return apierr.Invalid(field, fmt.Sprintf("must be at most %d characters", max))
		}
		*dst = *v
		return nil
	}
	if in.Name != nil {
		for f, v := range map[string]string{"name.title": in.Name.Title, "name.first_name": in.Name.FirstName, "name.last_name": in.Name.LastName, "name.middle_name": in.Name.MiddleName} {
			if len(v) > 100 {
				return apierr.Invalid(f, "must be at most 100 characters")
			}
		}
		p.Name = in.Name
	}
	if in.Birthday != nil && *in.Birthday != "" {
		if _, err := time.Parse("2006-01-02", *in.Birthday); err != nil {
			return apierr.Invalid("birthday", "must be a date like 1990-12-31")
		}
	}
	for _, f := range []struct {
		dst   *string
		v     *string
		field string
		max   int
	}{
		{&p.Birthday, in.Birthday, "birthday", 10},
		{&p.Picture, in.Picture, "picture", 2048},
		{&p.Language, in.Language, "language", 35},
		{&p.ExternalUserID, in.ExternalUserID, "external_user_id", 200},
	} {
		if err := str(f.dst, f.v, f.field, f.max); err != nil {
			return err
		}
	}
	if in.CustomData != nil { // shallow merge, as Mosaic documents
		if p.CustomData == nil {
			p.CustomData = map[string]any{}
		}
		for k, v := range in.CustomData {
			p.CustomData[k] = v
		}
	}
	if in.ExternalAccountID == nil && in.CustomAppData == nil {
		return nil
	}
	if in.AppID == "" {
		field := "external_account_id"
		if in.CustomAppData != nil {
			field = "custom_app_data"
		}
		return apierr.Invalid(field, "belongs to an application: set it with the application's client token")
	}
	mine := p.Apps[in.AppID]
	if err := str(&mine.ExternalAccountID, in.ExternalAccountID, "external_account_id", 200); err != nil {
		return err
	}
	if in.CustomAppData != nil {
		mine.CustomAppData = in.CustomAppData
	}
	if p.Apps == nil {
		p.Apps = map[string]AppData{}
	}
	p.Apps[in.AppID] = mine
	return nil
}

// Update merges in into the user.
func (s *Service) Update(ctx context.Context, id string, in Input) (store.User, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return store.User{}, err
	}
	now := s.clock.Now()
	if err := apply(&u, in, now); err != nil {
		return store.User{}, err
	}
	if u.Email == "" && u.Phone == "" {
		// A user who logs in with a password may have only a username.
		_, perr := s.store.GetPassword(ctx, u.ID)
		if perr != nil && !errors.Is(perr, store.ErrNotFound) {
			return store.User{}, perr
		}
		if perr != nil || u.Username == "" {
			return store.User{}, apierr.Invalid("email", "a user needs an email or a phone_number (or a username and a password)")
		}
	}
	u.UpdatedAt = now
	if err := s.store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, apierr.UserNotFound()
		}
		return store.User{}, Conflict(err)
	}
	if u.Status != StatusActive {
		// A user who may not log in keeps no session: their refresh tokens and user access
		// tokens are refused from the next request on, on every node (the bearer check asks
		// whether the token's session is live). Ending them again is harmless, so a status
		// that was already inactive ends whatever a racing login made meanwhile.
		if _, err := s.store.EndUserSessions(ctx, u.ID, now); err != nil {
			return store.User{}, fmt.Errorf("end the sessions of an inactive user: %w", err)
		}
	}
	return u, nil
}

// Get returns a user by id or the 404.
func (s *Service) Get(ctx context.Context, id string) (store.User, error) {
	return notFound(s.store.GetUser(ctx, id))
}

func notFound(u store.User, err error) (store.User, error) {
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, apierr.UserNotFound()
	}
	return u, err
}

// Find returns the user named by identifier of identifier type typ (default email), or the
// 400 for a bad identifier, or the 404.
func (s *Service) Find(ctx context.Context, typ, identifier string) (store.User, error) {
	return s.Lookup(ctx, typ, identifier, "identifier")
}

// Lookup is Find for callers whose request names the identifier differently (a path parameter
// such as email, or identifier_value): a malformed identifier is a 400 naming field.
func (s *Service) Lookup(ctx context.Context, typ, identifier, field string) (store.User, error) {
	by, v, err := Key(typ, identifier, field)
	if err != nil {
		return store.User{}, err
	}
	switch by {
	case store.UserByEmail:
		return notFound(s.store.GetUserByEmail(ctx, v))
	case store.UserByPhone:
		return notFound(s.store.GetUserByPhone(ctx, v))
	case store.UserByUsername:
		return notFound(s.store.GetUserByUsername(ctx, v))
	default:
		return notFound(s.store.GetUser(ctx, v))
	}
}

// Key is the column and normalized value Lookup finds a user by, or the 400 it answers for a
// malformed identifier, for callers that read the user in a query of their own.
func Key(typ, identifier, field string) (store.UserBy, string, error) {
	typ, v, badField, problem := NormalizeIdentifier(typ, identifier)
	if badField == "identifier" {
		badField = field
	}
	if badField != "" {
		return "", "", apierr.Invalid(badField, problem)
	}
	switch typ {
	case IDEmail:
		return store.UserByEmail, v, nil
	case IDPhone:
		return store.UserByPhone, v, nil
	case IDUsername:
		return store.UserByUsername, v, nil
	default:
		return store.UserByID, v, nil
	}
}

// NotFound is the API's answer for a user a query of the caller's own did not find
// (store.ErrNotFound), and err otherwise.
func NotFound(err error) error {
	_, err = notFound(store.User{}, err)
	return err
}

// Delete removes a user and everything that belongs to them.
func (s *Service) Delete(ctx context.Context, id string) error {
	err := s.store.DeleteUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return apierr.UserNotFound()
	}
	return err
}

// List returns a page of users and the total count matching q.
func (s *Service) List(ctx context.Context, q store.UserQuery) ([]store.User, int, error) {
	total, err := s.store.CountUsers(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	users, err := s.store.ListUsers(ctx, q)
	return users, total, err
}

// Count counts the users matching q.
func (s *Service) Count(ctx context.Context, q store.UserQuery) (int, error) {
	return s.store.CountUsers(ctx, q)
}
