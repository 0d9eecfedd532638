package app

import (
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// LoginPreferences is Mosaic's login_preferences: the settings of each sign-in method, by
// method. Latch keeps one set of code settings (length, lifetime, attempts, lockout) for email
// and SMS codes and one lockout for every method, so email_otp, sms and totp name the same
// settings where they overlap; given in one request, the later of email_otp, sms, totp wins.
type LoginPreferences struct {
	AuthMethods AuthMethods `json:"auth_methods"`
}

// AuthMethods are the sign-in methods Latch has (ApiAuthMethods); others are ignored.
type AuthMethods struct {
	Email    *EmailMethod    `json:"email"`
	EmailOTP *CodeMethod     `json:"email_otp"`
	SMS      *CodeMethod     `json:"sms"`
	TOTP     *TOTPMethod     `json:"totp"`
	Password *PasswordMethod `json:"password"`
}

// PasswordMethod is Mosaic's PasswordConfiguration. Giving it enables passwords for the app
// unless enabled (Latch's own field) is false. Mosaic's lockout fields name Latch's one lockout
// (otp_max_attempts, lockout_minutes). passwordExpiresIn applies only with ignoreExpiration
// false given: Mosaic marks it required, and Latch does not expire passwords unless asked
// (NIST SP 800-63B rev 4); ignoreExpiration true turns expiry off.
type PasswordMethod struct {
	Enabled                    *bool          `json:"enabled"`
	PasswordMinLength          *int           `json:"passwordMinLength"`
	PasswordComplexity         *int           `json:"passwordComplexity"`
	BlockPreviousPasswords     *int           `json:"blockPreviousPasswords"`
	PasswordExpiresIn          *int           `json:"passwordExpiresIn"`
	IgnoreExpiration           *bool          `json:"ignoreExpiration"`
	CheckHIBP                  *bool          `json:"checkHibp"`
	CheckDictionary            *bool          `json:"checkDictionary"`
	MaxPasswordFailures        *int           `json:"maxPasswordFailures"`
	PasswordSuspensionDuration *int           `json:"passwordSuspensionDuration"`
	FailuresExpireIn           *int           `json:"failuresExpireIn"`
	TempPasswordValidityHours  *int           `json:"tempPasswordValidityHours"`
	ResetValidityMinutes       *int           `json:"resetValidityMinutes"`
	CodeLength                 *int           `json:"codeLength"`
	RequireMFA                 *bool          `json:"requireMFA"`
	NotifyOnPasswordUpdate     *bool          `json:"notifyOnPasswordUpdate"`
	Message                    *MessageConfig `json:"message"`
}

func (p *PasswordMethod) apply(seen applied, s *Settings) {
	if p == nil {
		return
	}
	on := true
	if p.Enabled != nil {
		on = *p.Enabled
	}
	setp(seen, "password_enabled", "password.enabled", &s.PasswordEnabled, &on)
	setp(seen, "password_min_length", "password.passwordMinLength", &s.PasswordMinLength, p.PasswordMinLength)
	setp(seen, "password_complexity", "password.passwordComplexity", &s.PasswordComplexity, p.PasswordComplexity)
	setp(seen, "password_block_previous", "password.blockPreviousPasswords", &s.PasswordBlockPrevious, p.BlockPreviousPasswords)
	if p.IgnoreExpiration != nil {
		never := 0
		if *p.IgnoreExpiration {
			setp(seen, "password_expires_in_days", "password.ignoreExpiration", &s.PasswordExpiresInDays, &never)
		} else if p.PasswordExpiresIn != nil {
			setp(seen, "password_expires_in_days", "password.passwordExpiresIn", &s.PasswordExpiresInDays, p.PasswordExpiresIn)
		}
	}
	setp(seen, "password_check_hibp", "password.checkHibp", &s.PasswordCheckHIBP, p.CheckHIBP)
	setp(seen, "password_check_dictionary", "password.checkDictionary", &s.PasswordCheckDictionary, p.CheckDictionary)
	setp(seen, "otp_max_attempts", "password.maxPasswordFailures", &s.OTPMaxAttempts, p.MaxPasswordFailures)
	setp(seen, "lockout_minutes", "password.failuresExpireIn", &s.LockoutMinutes, p.FailuresExpireIn)
	setp(seen, "lockout_minutes", "password.passwordSuspensionDuration", &s.LockoutMinutes, p.PasswordSuspensionDuration)
	setp(seen, "password_temp_validity_hours", "password.tempPasswordValidityHours", &s.PasswordTempValidityHours, p.TempPasswordValidityHours)
	setp(seen, "password_reset_validity_minutes", "password.resetValidityMinutes", &s.PasswordResetValidityMinutes, p.ResetValidityMinutes)
	setp(seen, "password_reset_code_length", "password.codeLength", &s.PasswordResetCodeLength, p.CodeLength)
	setp(seen, "password_reset_require_mfa", "password.requireMFA", &s.PasswordResetRequireMFA, p.RequireMFA)
	setp(seen, "password_notify_on_update", "password.notifyOnPasswordUpdate", &s.PasswordNotifyOnUpdate, p.NotifyOnPasswordUpdate)
	p.Message.apply(seen, "password", s)
}

// EmailMethod is the magic link's configuration (EmailConfiguration).
type EmailMethod struct {
	ExpiresIn    *int           `json:"expiresIn"`
	LinksPerUser *int           `json:"linksPerUser"`
	Message      *MessageConfig `json:"message"`
}

// MessageConfig is an email's look (MessageConfiguration); Latch keeps its primary colour.
type MessageConfig struct {
	PrimaryColor *string `json:"primaryColor"`
}

// CodeMethod is a one-time code's configuration (EmailOtpConfiguration, SMSConfiguration).
type CodeMethod struct {
	ExpiresIn       *int           `json:"expiresIn"`
	LockoutDuration *int           `json:"lockoutDuration"`
	MaxFailures     *int           `json:"maxFailures"`
	CodeLength      *int           `json:"codeLength"`
	Message         *MessageConfig `json:"message"`
}

// TOTPMethod is the authenticator app's configuration (TotpConfiguration).
type TOTPMethod struct {
	Algorithm       *string `json:"algorithm"`
	Digits          *int    `json:"digits"`
	Period          *int    `json:"period"`
	MaxTotpPerUser  *int    `json:"maxTotpPerUser"`
	MaxFailures     *int    `json:"maxFailures"`
	LockoutDuration *int    `json:"lockoutDuration"`
}

// applied records, for each setting a request's login preferences set, the field that set it,
// so a refused value is named as the request named it.
type applied map[string]string

func setp[T any](seen applied, setting, field string, dst *T, v *T) {
	if v != nil {
		*dst = *v
		seen[setting] = "login_preferences.auth_methods." + field
	}
}

func (m *MessageConfig) apply(seen applied, method string, s *Settings) {
	if m != nil {
		setp(seen, "brand_primary_color", method+".message.primaryColor", &s.BrandPrimaryColor, m.PrimaryColor)
	}
}

func (c *CodeMethod) apply(seen applied, method string, s *Settings) {
	if c == nil {
		return
	}
	setp(seen, "otp_expiry_minutes", method+".expiresIn", &s.OTPExpiryMinutes, c.ExpiresIn)
	setp(seen, "lockout_minutes", method+".lockoutDuration", &s.LockoutMinutes, c.LockoutDuration)
	setp(seen, "otp_max_attempts", method+".maxFailures", &s.OTPMaxAttempts, c.MaxFailures)
	setp(seen, "otp_length", method+".codeLength", &s.OTPLength, c.CodeLength)
	c.Message.apply(seen, method, s)
}

// apply sets what lp names onto s and returns which field set each setting.
func (lp *LoginPreferences) apply(s *Settings) applied {
	seen := applied{}
	m := lp.AuthMethods
	if m.Email != nil {
		setp(seen, "magic_link_expiry_minutes", "email.expiresIn", &s.MagicLinkExpiryMinutes, m.Email.ExpiresIn)
		setp(seen, "send_limit", "email.linksPerUser", &s.SendLimit, m.Email.LinksPerUser)
		m.Email.Message.apply(seen, "email", s)
	}
	m.EmailOTP.apply(seen, "email_otp", s)
	m.SMS.apply(seen, "sms", s)
	if t := m.TOTP; t != nil {
		if t.Algorithm != nil {
			alg := strings.ToUpper(*t.Algorithm)
			setp(seen, "totp_algorithm", "totp.algorithm", &s.TOTPAlgorithm, &alg)
		}
		setp(seen, "totp_digits", "totp.digits", &s.TOTPDigits, t.Digits)
		setp(seen, "totp_period", "totp.period", &s.TOTPPeriod, t.Period)
		setp(seen, "totp_max_per_user", "totp.maxTotpPerUser", &s.TOTPMaxPerUser, t.MaxTotpPerUser)
		setp(seen, "otp_max_attempts", "totp.maxFailures", &s.OTPMaxAttempts, t.MaxFailures)
		setp(seen, "lockout_minutes", "totp.lockoutDuration", &s.LockoutMinutes, t.LockoutDuration)
	}
	m.Password.apply(seen, s)
	return seen
}

// APILoginPreferences is the app's settings in Mosaic's login_preferences shape. It shows no
// password method: Latch's password policy is outside the ranges of Mosaic's
// PasswordConfiguration (a minimum of 15 where Mosaic allows at most 14, no expiry where Mosaic
// needs 1 to 1096 days), so the password settings are shown under the app's "settings" only.
func (s Settings) APILoginPreferences() map[string]any {
	message := map[string]any{"primaryColor": s.BrandPrimaryColor}
	code := map[string]any{"expiresIn": s.OTPExpiryMinutes, "lockoutDuration": s.LockoutMinutes, "maxFailures": s.OTPMaxAttempts,
		"codeLength": s.OTPLength, "crossClientsAllowed": true}
	emailOTP := map[string]any{"message": message}
	for k, v := range code {
		emailOTP[k] = v
	}
	return map[string]any{"auth_methods": map[string]any{
		"email":     map[string]any{"expiresIn": s.MagicLinkExpiryMinutes, "linksPerUser": s.SendLimit, "message": message},
		"email_otp": emailOTP,
		"sms":       code,
		"totp": map[string]any{"algorithm": strings.ToLower(s.TOTPAlgorithm), "digits": s.TOTPDigits, "period": s.TOTPPeriod,
			"window": 1, "maxTotpPerUser": s.TOTPMaxPerUser, "maxFailures": s.OTPMaxAttempts, "lockoutDuration": s.LockoutMinutes,
			"failuresExpireIn": s.LockoutMinutes},
	}}
}

func apiTime(t, fallback time.Time) string {
	if t.IsZero() {
		t = fallback
	}
	return t.UTC().Format(time.RFC3339)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// API is the application in Mosaic's ApiApp shape (ApiAppWithoutLogo without logo), with
// Latch's own settings under "settings". first is its oldest client (the "default client" of
// the deprecated client_* fields; zero when it has none); a client_secret is never shown here
// except by the create that made it, which sets it on the result.
func API(a App, first store.Client) map[string]any {
	out := map[string]any{
		"app_id":                    a.ID,
		"tenant_id":                 a.TenantID,
		"app_name":                  a.Name,
		"app_description":           a.Description,
		"logo":                      a.Settings.BrandLogoURL,
		"redirect_uris":             orEmpty(a.RedirectURIs),
		"resources":                 orEmpty(a.Resources),
		"login_preferences":         a.Settings.APILoginPreferences(),
		"created_at":                apiTime(a.CreatedAt, a.CreatedAt),
		"created_by":                "",
		"updated_at":                apiTime(a.UpdatedAt, a.CreatedAt),
		"service_providers":         []string{},
		"authenticator_preferences": map[string]any{"is_centralized": false, "login_uri": ""},
		"allow_public_signup":       a.AllowSignup,
		"application_type":          "basic",
		"settings":                  a.Settings,
	}
	if first.ClientID != "" {
		out["client_id"] = first.ClientID
		out["client_display_name"] = first.Name
		out["client_description"] = first.Description
		out["client_type"] = "web"
		out["admin"] = first.Admin
	}
	return out
}

// APIBasic is the application in Mosaic's ApiBasicApp shape.
func APIBasic(a App) map[string]any {
	return map[string]any{"app_id": a.ID, "tenant_id": a.TenantID, "app_name": a.Name, "app_description": a.Description, "application_type": "basic"}
}

// APIClient is a client in Mosaic's ApiOidcClient shape. Redirect URIs and resources are its
// application's; client_secret is "" except right after a create or a rotation, which set it.
// secret_grace_expires_at says until when a rotated-out secret still works.
func APIClient(a App, c store.Client) map[string]any {
	out := map[string]any{
		"app_id":                  c.AppID,
		"tenant_id":               a.TenantID,
		"client_id":               c.ClientID,
		"client_secret":           "",
		"name":                    c.Name,
		"description":             c.Description,
		"resources":               orEmpty(a.Resources),
		"created_at":              apiTime(c.CreatedAt, c.CreatedAt),
		"updated_at":              apiTime(c.UpdatedAt, c.CreatedAt),
		"authentication_protocol": "oidc",
		"client_group_id":         "",
		"default_custom_claims":   []string{},
		"redirect_uris":           orEmpty(a.RedirectURIs),
		"client_type":             clientType(c),
		"response_types":          []string{"code"},
		"device_authorization":    map[string]any{"enabled": false, "approval_uri": "", "success_uri": "", "input_uri": ""},
		"ciba_authorization":      map[string]any{"enabled": false},
		"supported_prompts":       []string{"login", "consent", "none"},
		"token_expiration": map[string]any{"access_token_ttl": a.Settings.AccessTokenTTLSeconds,
			"refresh_token_ttl": a.Settings.RefreshTokenTTLSeconds},
		"session_expiration":      a.Settings.RefreshTokenTTLSeconds,
		"enforce_par":             false,
		"fapi_version_compliancy": false,
		"admin":                   c.Admin,
		"public":                  IsPublic(c),
	}
	if c.PrevSecretHash != "" && !c.PrevSecretExpires.IsZero() {
		out["secret_grace_expires_at"] = apiTime(c.PrevSecretExpires, c.PrevSecretExpires)
	}
	return out
}

// FirstClient is the client API shows as an application's default one: its oldest client other
// than the dev-mode demo's derived client (which it falls back to when it is the only one);
// zero when the application has none.
func FirstClient(clients []store.Client) store.Client {
	for _, c := range clients {
		if !IsDerivedClient(c.ClientID) {
			return c
		}
	}
	if len(clients) > 0 {
		return clients[0]
	}
	return store.Client{}
}

// clientType is Mosaic's client_type: "native" for a public client (no secret, PKCE), "web" else.
func clientType(c store.Client) string {
	if IsPublic(c) {
		return "native"
	}
	return "web"
}
