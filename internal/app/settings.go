// Package app owns applications and their clients: method settings with their defaults, client
// credentials (stored as keyed hashes, checked in constant time), the first-start bootstrap and a
// short-lived cache so the hot path reads neither on every request. It never returns or logs a
// stored secret; a client secret exists in plaintext only in the result of its creation.
package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/delivery"
	"github.com/latch-auth/latch/internal/store"
)

// Settings are an application's method settings. Zero fields take the defaults of product.md.
type Settings struct {
	OTPLength              int    `json:"otp_length"`
	OTPExpiryMinutes       int    `json:"otp_expiry_minutes"`
	OTPMaxAttempts         int    `json:"otp_max_attempts"`
	LockoutMinutes         int    `json:"lockout_minutes"`
	MagicLinkExpiryMinutes int    `json:"magic_link_expiry_minutes"`
	TOTPAlgorithm          string `json:"totp_algorithm"`
	TOTPDigits             int    `json:"totp_digits"`
	TOTPPeriod             int    `json:"totp_period"`
	TOTPMaxPerUser         int    `json:"totp_max_per_user"`
	SendLimit              int    `json:"send_limit"`
	SendWindowMinutes      int    `json:"send_window_minutes"`
	SendHourLimit          int    `json:"send_hour_limit"`
	AppSendsPerMinute      int    `json:"app_sends_per_minute"`
	AccessTokenTTLSeconds  int    `json:"access_token_ttl_seconds"`
	IDTokenTTLSeconds      int    `json:"id_token_ttl_seconds"`
	RefreshTokenTTLSeconds int    `json:"refresh_token_ttl_seconds"`
	// RequireMFA makes every hosted login of the app require a second factor, as the request's
	// require_mfa does.
	RequireMFA bool `json:"require_mfa"`
	// BrandPrimaryColor (#rgb or #rrggbb) colours the app's emails unless a request's
	// email_content sets primaryColor; BrandLogoURL is the app's logo (Mosaic's logo).
	BrandPrimaryColor string `json:"brand_primary_color"`
	BrandLogoURL      string `json:"brand_logo_url"`
	// Users is what the app's client tokens may do with the tenant's users: "none", "read" or
	// "full" (Mosaic's default). An admin token may always manage users.
	Users string `json:"users"`
	// SignInMethods are the methods Latch's own sign-in pages (the OIDC provider) offer, comma
	// separated: email_otp, magic_link, sms, password (all four by default; password only shows
	// once PasswordEnabled).
	SignInMethods string `json:"signin_methods"`
	// MFAWhenEnrolled makes those pages ask a user who has an authenticator (TOTP) for it
	// after the first factor, even when the app does not require MFA of everyone.
	MFAWhenEnrolled bool `json:"mfa_when_enrolled"`

	// Passwords (product.md "Passwords"): off until PasswordEnabled. PasswordMinLength counts code
	// points (default 15, at least 8 and only below 15 when RequireMFA is set, as NIST SP 800-63B
	// rev 4 allows). PasswordExpiresInDays 0 (the default) never expires a password (NIST: no
	// forced rotation). PasswordTempValidityHours bounds a temporary (force_replace) password,
	// PasswordResetValidityMinutes a reset token, link or code, PasswordResetCodeLength a reset
	// code. Mosaic's other policy fields are kept as given (login_preferences.auth_methods.password)
	// but impose nothing: Latch never imposes composition rules (PasswordComplexity), always checks
	// its embedded blocklist (PasswordCheckDictionary), cannot reach Have I Been Pwned
	// (PasswordCheckHIBP) and keeps no password history (PasswordBlockPrevious).
	PasswordEnabled              bool `json:"password_enabled"`
	PasswordMinLength            int  `json:"password_min_length"`
	PasswordExpiresInDays        int  `json:"password_expires_in_days"`
	PasswordTempValidityHours    int  `json:"password_temp_validity_hours"`
	PasswordResetValidityMinutes int  `json:"password_reset_validity_minutes"`
	PasswordResetCodeLength      int  `json:"password_reset_code_length"`
	PasswordResetRequireMFA      bool `json:"password_reset_require_mfa"`
	PasswordNotifyOnUpdate       bool `json:"password_notify_on_update"`
	PasswordComplexity           int  `json:"password_complexity"`
	PasswordBlockPrevious        int  `json:"password_block_previous"`
	PasswordCheckHIBP            bool `json:"password_check_hibp"`
	PasswordCheckDictionary      bool `json:"password_check_dictionary"`
}

// The sign-in methods of Latch's pages (Settings.SignInMethods).
const (
	SignInEmailOTP  = "email_otp"
	SignInMagicLink = "magic_link"
	SignInSMS       = "sms"
	SignInPassword  = "password" // offered only while PasswordEnabled
)

// SignsInWith reports whether Latch's sign-in pages offer method for the app: a listed method,
// and for passwords only while the app has them enabled.
func (s Settings) SignsInWith(method string) bool {
	if method == SignInPassword && !s.PasswordEnabled {
		return false
	}
	for _, m := range strings.Split(s.SignInMethods, ",") {
		if strings.TrimSpace(m) == method {
			return true
		}
	}
	return false
}

// What a client token may do with users (Settings.Users).
const (
	UsersNone = "none"
	UsersRead = "read"
	UsersFull = "full"
)

// Lockout is the failure policy every login method holds an identifier to, assembled here once:
// OTPMaxAttempts failures within LockoutMinutes lock it for LockoutMinutes.
func (s Settings) Lockout() store.FailurePolicy {
	window := time.Duration(s.LockoutMinutes) * time.Minute
	return store.FailurePolicy{Max: s.OTPMaxAttempts, Window: window, LockFor: window}
}

// SendLimits are product.md's send limits for a send to key on channel: per key (the user,
// whatever method, channel or client asks) SendLimit sends in any SendWindowMinutes and
// SendHourLimit in any hour; per application AppSendsPerMinute delivered messages a minute,
// which a "direct" send (nothing delivered) does not count.
func (s Settings) SendLimits(key, channel string) store.SendLimits {
	l := store.SendLimits{Key: key, PerKey: []store.RateLimit{
		{Max: s.SendLimit, Window: time.Duration(s.SendWindowMinutes) * time.Minute},
		{Max: s.SendHourLimit, Window: time.Hour},
	}}
	if channel != "direct" {
		l.PerApp = store.RateLimit{Max: s.AppSendsPerMinute, Window: time.Minute}
	}
	return l
}

var hexColour = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// MaxTokenTTLSeconds bounds access and ID token lifetimes; signing keys stay published this long
// after they are retired, so no live token loses its key.
const MaxTokenTTLSeconds = 24 * 3600

// DefaultSettings returns the defaults of product.md.
func DefaultSettings() Settings {
	return Settings{
		OTPLength: 6, OTPExpiryMinutes: 5, OTPMaxAttempts: 5, LockoutMinutes: 15,
		MagicLinkExpiryMinutes: 10,
		TOTPAlgorithm:          "SHA1", TOTPDigits: 6, TOTPPeriod: 30, TOTPMaxPerUser: 1,
		SendLimit: 5, SendWindowMinutes: 15, SendHourLimit: 10, AppSendsPerMinute: 600,
		AccessTokenTTLSeconds: 3600, IDTokenTTLSeconds: 3600, RefreshTokenTTLSeconds: 14 * 24 * 3600,
		Users:             UsersFull,
		PasswordMinLength: 15, PasswordTempValidityHours: 24, PasswordResetValidityMinutes: 15, PasswordResetCodeLength: 6,
		PasswordComplexity: 1, PasswordCheckDictionary: true,
	}
}

// withDefaults fills zero fields with the defaults.
func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&s.OTPLength, d.OTPLength)
	fill(&s.OTPExpiryMinutes, d.OTPExpiryMinutes)
	fill(&s.OTPMaxAttempts, d.OTPMaxAttempts)
	fill(&s.LockoutMinutes, d.LockoutMinutes)
	fill(&s.MagicLinkExpiryMinutes, d.MagicLinkExpiryMinutes)
	fill(&s.TOTPDigits, d.TOTPDigits)
	fill(&s.TOTPPeriod, d.TOTPPeriod)
	fill(&s.TOTPMaxPerUser, d.TOTPMaxPerUser)
	fill(&s.SendLimit, d.SendLimit)
	fill(&s.SendWindowMinutes, d.SendWindowMinutes)
	fill(&s.SendHourLimit, d.SendHourLimit)
	fill(&s.AppSendsPerMinute, d.AppSendsPerMinute)
	fill(&s.AccessTokenTTLSeconds, d.AccessTokenTTLSeconds)
	fill(&s.IDTokenTTLSeconds, d.IDTokenTTLSeconds)
	fill(&s.RefreshTokenTTLSeconds, d.RefreshTokenTTLSeconds)
	fill(&s.PasswordMinLength, d.PasswordMinLength)
	fill(&s.PasswordTempValidityHours, d.PasswordTempValidityHours)
	fill(&s.PasswordResetValidityMinutes, d.PasswordResetValidityMinutes)
	fill(&s.PasswordResetCodeLength, d.PasswordResetCodeLength)
	fill(&s.PasswordComplexity, d.PasswordComplexity)
	if s.TOTPAlgorithm == "" {
		s.TOTPAlgorithm = d.TOTPAlgorithm
	}
	if s.Users == "" {
		s.Users = UsersFull
	}
	if strings.TrimSpace(s.SignInMethods) == "" {
		s.SignInMethods = SignInEmailOTP + "," + SignInMagicLink + "," + SignInSMS + "," + SignInPassword
	}
	s.TOTPAlgorithm = strings.ToUpper(s.TOTPAlgorithm)
	return s
}

// Validate returns (field, problem) for the first setting out of range, or ("", "").
func (s Settings) Validate() (string, string) {
	checks := []struct {
		field    string
		v, lo, h int
	}{
		{"otp_length", s.OTPLength, 4, 10},
		{"otp_expiry_minutes", s.OTPExpiryMinutes, 1, 60},
		{"otp_max_attempts", s.OTPMaxAttempts, 1, 100},
		{"lockout_minutes", s.LockoutMinutes, 1, 7 * 24 * 60},
		{"magic_link_expiry_minutes", s.MagicLinkExpiryMinutes, 1, 24 * 60},
		{"totp_period", s.TOTPPeriod, 15, 120},
		{"totp_max_per_user", s.TOTPMaxPerUser, 1, 50},
		{"send_limit", s.SendLimit, 1, 1000},
		{"send_window_minutes", s.SendWindowMinutes, 1, 24 * 60},
		{"send_hour_limit", s.SendHourLimit, 1, 100000},
		{"app_sends_per_minute", s.AppSendsPerMinute, 1, 1000000},
		{"access_token_ttl_seconds", s.AccessTokenTTLSeconds, 60, MaxTokenTTLSeconds},
		{"id_token_ttl_seconds", s.IDTokenTTLSeconds, 60, MaxTokenTTLSeconds},
		{"refresh_token_ttl_seconds", s.RefreshTokenTTLSeconds, 60, 365 * 24 * 3600},
		{"password_min_length", s.PasswordMinLength, 8, 256},
		{"password_expires_in_days", s.PasswordExpiresInDays, 0, 1096},
		{"password_temp_validity_hours", s.PasswordTempValidityHours, 1, 8760},
		{"password_reset_validity_minutes", s.PasswordResetValidityMinutes, 5, 60},
		{"password_reset_code_length", s.PasswordResetCodeLength, 4, 8},
		{"password_complexity", s.PasswordComplexity, 1, 5},
		{"password_block_previous", s.PasswordBlockPrevious, 0, 20},
	}
	for _, c := range checks {
		if c.v < c.lo || c.v > c.h {
			return c.field, fmt.Sprintf("must be between %d and %d", c.lo, c.h)
		}
	}
	if s.PasswordMinLength < 15 && !s.RequireMFA {
		return "password_min_length", "must be at least 15 unless require_mfa is set (NIST SP 800-63B rev 4 allows 8 only where a second factor is required)"
	}
	if s.TOTPDigits != 6 && s.TOTPDigits != 8 {
		return "totp_digits", "must be 6 or 8"
	}
	switch s.TOTPAlgorithm {
	case "SHA1", "SHA256", "SHA512":
	default:
		return "totp_algorithm", "must be SHA1, SHA256 or SHA512"
	}
	switch s.Users {
	case UsersNone, UsersRead, UsersFull:
	default:
		return "users", "must be none, read or full"
	}
	for _, m := range strings.Split(s.SignInMethods, ",") {
		if strings.TrimSpace(s.SignInMethods) == "" {
			break // the default: all of them
		}
		switch strings.TrimSpace(m) {
		case SignInEmailOTP, SignInMagicLink, SignInSMS, SignInPassword:
		default:
			return "signin_methods", "must be a comma-separated list of email_otp, magic_link, sms and password"
		}
	}
	if s.BrandPrimaryColor != "" && !hexColour.MatchString(s.BrandPrimaryColor) {
		return "brand_primary_color", "must be a hex colour such as #1a73e8"
	}
	if s.BrandLogoURL != "" {
		if u, err := url.Parse(s.BrandLogoURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || len(s.BrandLogoURL) > 2048 {
			return "brand_logo_url", "must be an absolute http or https URL of at most 2048 characters"
		}
	}
	return "", ""
}

// Set sets the setting named by its JSON name (send_limit, totp_algorithm, ...) from text: the
// operator's `latch app create --setting name=value`. An unknown name or a value of the wrong
// kind is an error that names it; ranges are checked by Validate.
func (s *Settings) Set(name, value string) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	old, ok := m[name]
	if !ok {
		return fmt.Errorf("%s: not a setting", name)
	}
	switch old.(type) {
	case bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%s: must be true or false", name)
		}
		m[name] = b
	case float64:
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("%s: must be a whole number", name)
		}
		m[name] = n
	default:
		m[name] = value
	}
	if raw, err = json.Marshal(m); err != nil {
		return err
	}
	return json.Unmarshal(raw, s)
}

// ParseSettings reads stored settings JSON and applies defaults.
func ParseSettings(raw []byte) (Settings, error) {
	var s Settings
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &s); err != nil {
			return Settings{}, fmt.Errorf("app settings: %w", err)
		}
	}
	return s.withDefaults(), nil
}

// EmailContent is the email content of a request (nil when it set none) with the app's brand
// colour where the request names no primaryColor.
func (s Settings) EmailContent(req *delivery.EmailContent) delivery.EmailContent {
	var c delivery.EmailContent
	if req != nil {
		c = *req
	}
	if c.PrimaryColor == "" {
		c.PrimaryColor = s.BrandPrimaryColor
	}
	return c
}
