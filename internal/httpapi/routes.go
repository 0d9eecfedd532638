package httpapi

import (
	"net/http"

	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/magiclink"
	"github.com/latch-auth/latch/internal/signin"
	"github.com/latch-auth/latch/internal/user"
)

type route struct {
	pattern string
	auth    authKind
	handler http.Handler
}

// describedAs names the operation of openapi.yaml a route serves when its pattern cannot be the
// operation's path: the mux cannot tell users/{user_id}/groups from users/email/{email} (a
// request for users/email/groups would match both), so groups is served by a less specific
// pattern whose handler answers only "groups".
var describedAs = map[string]string{
	"GET /cis/v1/users/{user_id}/{list}": "GET /cis/v1/users/{user_id}/groups",
}

// routes is the whole API surface at a glance: method and path, the token it needs, the handler.
func (s *Server) routes() []route {
	h := func(f http.HandlerFunc) http.Handler { return f }
	routes := []route{
		// tokens and discovery
		{"POST /oidc/token", authNone, h(s.token)},
		{"GET /cis/oidc/jwks", authNone, h(s.jwks)},
		{"GET /.well-known/openid-configuration", authNone, h(s.discovery)},
		{"GET /cis/oidc/.well-known/openid-configuration", authNone, h(s.discovery)},
		{"GET /oidc/.well-known/openid-configuration", authNone, h(s.discovery)},
		// UserInfo, revocation, introspection: each reads its own credentials (a user access
		// token in the header or the form; the client as at /oidc/token), so authNone here.
		{"GET /cis/oidc/me", authNone, h(s.userinfo)},
		{"POST /cis/oidc/me", authNone, h(s.userinfo)},
		{"GET /oidc/me", authNone, h(s.userinfo)},
		{"POST /oidc/me", authNone, h(s.userinfo)},
		{"POST /oidc/token/revocation", authNone, h(s.revocation)},
		{"POST /cis/oidc/token/revocation", authNone, h(s.revocation)},
		{"POST /oidc/token/introspection", authNone, h(s.introspection)},
		{"POST /cis/oidc/token/introspection", authNone, h(s.introspection)},

		// Latch as an OpenID Connect provider: authorization (GET, and POST as OIDC allows),
		// its sign-in pages, the emailed link, RP-initiated logout (each also without /cis)
		{"GET " + signin.AuthPath, authNone, h(s.OIDC.Authorize)},
		{"POST " + signin.AuthPath, authNone, h(s.OIDC.Authorize)},
		{"GET /oidc/auth", authNone, h(s.OIDC.Authorize)},
		{"POST /oidc/auth", authNone, h(s.OIDC.Authorize)},
		{"POST " + signin.LoginPath, authNone, h(s.OIDC.Login)},
		{"GET " + signin.LinkPath, authNone, h(s.OIDC.Link)},
		{"GET " + signin.EndPath, authNone, h(s.OIDC.EndSession)},
		{"POST " + signin.EndPath, authNone, h(s.OIDC.EndSession)},
		{"GET /oidc/session/end", authNone, h(s.OIDC.EndSession)},
		{"POST /oidc/session/end", authNone, h(s.OIDC.EndSession)},
		{"GET " + signin.FormPostJS, authNone, h(s.OIDC.FormPostScript)},

		// backend one-time login (seed 002)
		{"POST /cis/v1/auth/otp/send", authClient, h(s.otpSend)},
		{"POST /cis/v1/auth/otp/authenticate", authClient, h(s.otpAuthenticate)},
		{"POST /cis/v1/auth/link/email/send", authClient, h(s.linkSend)},
		{"POST /cis/v1/auth/link/email/authenticate", authClient, h(s.linkAuthenticate)},
		{"GET " + magiclink.RedirectPath, authNone, s.browserPage(h(s.linkRedirect))},

		// hosted one-time login (seed 003)
		{"POST /cis/v1/auth/links/email", authClient, s.hostedStart("link")},
		{"POST /cis/v1/auth/otp/email", authClient, s.hostedStart("email")},
		{"POST /cis/v1/auth/otp/email/validation", authClient, s.hostedValidate("email")},
		{"POST /cis/v1/auth/otp/sms", authClient, s.hostedStart("sms")},
		{"POST /cis/v1/auth/otp/sms/validation", authClient, s.hostedValidate("sms")},
		{"GET " + hosted.RedirectPath, authNone, s.browserPage(h(s.hostedRedirect))},
		{"POST /cis/v1/token", authNone, h(s.tokenExchange)},

		// passwords (issue 22): backend login, reset by token, validate, register
		{"POST /cis/v1/auth/password/authenticate", authClient, h(s.passwordAuthenticate)},
		{"POST /cis/v1/auth/password/reset", authNone, h(s.passwordReset)},
		{"POST /cis/v1/auth/password/validate", authClient, h(s.passwordValidate)},
		{"POST /cis/v1/auth/password/register", authClient, h(s.passwordRegister)},

		// hosted passwords (issue 22): login, and the starts of a reset
		{"POST /cis/v1/auth/password/login", authNone, h(s.passwordLogin)},
		{"POST /cis/v1/auth/password/reset/email/link", authClient, h(s.resetEmailLink)},
		{"POST /cis/v1/auth/password/reset/link", authClient, h(s.resetLink)},
		{"GET " + hosted.ResetRedirectPath, authNone, h(s.resetRedirect)},
		{"POST /cis/v1/auth/password/reset/email/otp", authClient, s.resetOTP("email")},
		{"POST /cis/v1/auth/password/reset/email/otp/validate", authClient, s.resetOTPValidate("email")},
		{"POST /cis/v1/auth/password/reset/sms/otp", authClient, s.resetOTP("sms")},
		{"POST /cis/v1/auth/password/reset/sms/otp/validate", authClient, s.resetOTPValidate("sms")},
		{"POST /cis/v1/auth/password/reset/password/validate", authNone, h(s.resetPasswordValidate)},

		// TOTP (seed 000): register (two aliases), authenticate, transaction signing, revoke
		{"POST /cis/v1/users/me/totp", authUser, h(s.totpRegister)},
		{"POST /cis/v1/auth/totp/register", authUser, h(s.totpRegister)},
		{"POST /cis/v1/auth/totp/authenticate", authClient, h(s.totpAuthenticate)},
		{"POST /cis/v1/auth/totp/transaction/start", authClient, h(s.totpTransactionStart)},
		{"POST /cis/v1/auth/totp/transaction/authenticate", authClient, h(s.totpTransactionAuthenticate)},
		{"POST /cis/v1/users/me/totp/revoke", authUser, h(s.totpRevokeMine)},
		{"POST /cis/v1/users/{userId}/totp/revoke", authClient, h(s.totpRevokeUser)},
		{"POST /cis/v1/users/me/totp/recovery-codes", authUser, h(s.recoveryGenerate)},
		{"GET /cis/v1/users/me/totp/recovery-codes", authUser, h(s.recoveryRemaining)},
		{"POST /cis/v1/auth/totp/recovery/authenticate", authClient, h(s.recoveryAuthenticate)},

		// TOTP devices (seed 001): pairing
		{"POST /cis/v1/users/me/totp/devices", authUser, h(s.totpCreateDevice)},
		{"GET /cis/v1/users/me/totp/devices", authUser, h(s.totpListDevices)},
		{"POST /cis/v1/users/me/totp/devices/{authId}/activate", authUser, h(s.totpActivateDevice)},
		{"DELETE /cis/v1/users/me/totp/devices/{authId}", authUser, h(s.totpDeleteDevice)},

		// sessions
		{"POST /cis/v1/auth/session/authenticate", authClient, h(s.sessionAuthenticate)},
		{"POST /cis/v1/auth/session/logout", authClient, h(s.sessionLogout)},
		{"POST /cis/v1/auth/token/refresh", authClient, h(s.tokenRefresh)},
		{"POST /cis/v1/auth/logout", authUser, h(s.logout)},

		// users (users.yml): client tokens as their app's users setting allows, admin tokens always
		{"POST /cis/v1/users", authUsers, s.usersAccess(true, h(s.createUser))},
		{"GET /cis/v1/users", authUsers, s.usersAccess(false, h(s.listUsers))},
		{"GET /cis/v1/users/count", authUsers, s.usersAccess(false, h(s.countUsers))},
		{"GET /cis/v1/users/identifier", authUsers, s.usersAccess(false, h(s.getUserByIdentifier))},
		{"GET /cis/v1/users/{user_id}", authUsers, s.usersAccess(false, h(s.getUser))},
		{"PUT /cis/v1/users/{user_id}", authUsers, s.usersAccess(true, h(s.updateUser))},
		{"GET /cis/v1/users/{user_id}/{list}", authUsers, s.usersAccess(false, h(s.getUserGroups))}, // see describedAs
		{"DELETE /cis/v1/users/{user_id}/apps", authUsers, s.usersAccess(true, h(s.removeUserFromApp))},
		{"GET /cis/v1/users/email/{email}", authUsers, s.usersAccess(false, h(s.getUserByEmail))},
		{"GET /cis/v1/users/phone-number/{phone_number}", authUsers, s.usersAccess(false, h(s.getUserByPhone))},
		{"GET /cis/v1/users/phone/{phone_number}", authUsers, s.usersAccess(false, h(s.getUserByPhone))},
		{"GET /cis/v1/users/username/{username}", authUsers, s.usersAccess(false, h(s.getUserByUsername))},
		{"GET /cis/v1/users/external-user-id/{external_user_id}", authUsers, s.usersAccess(false, h(s.getUserByExternalID))},
		{"POST /cis/v1/users/{user_id}/emails/{email}/verify", authUsers, s.usersAccess(true, s.verifyUser(user.IDEmail, "email"))},
		{"POST /cis/v1/users/{user_id}/phone-numbers/{phone_number}/verify", authUsers, s.usersAccess(true, s.verifyUser(user.IDPhone, "phone_number"))},
		{"DELETE /cis/v1/users/{user_id}/emails/{email}", authUsers, s.usersAccess(true, s.removeUserSecondary(user.IDEmail, "email"))},
		{"DELETE /cis/v1/users/{user_id}/phone-numbers/{phone_number}", authUsers, s.usersAccess(true, s.removeUserSecondary(user.IDPhone, "phone_number"))},
		{"DELETE /cis/v1/manage/users/{user_id}", authUsers, s.usersAccess(true, h(s.deleteUser))},
		{"POST /cis/v1/users/{user_id}/password", authUsers, s.usersAccess(true, h(s.addUserPassword))},
		{"PUT /cis/v1/users/{user_id}/password", authUsers, s.usersAccess(true, h(s.updateUserPassword))},
		{"POST /cis/v1/users/me/password-credentials", authUser, h(s.addMyPassword)},
		{"GET /cis/v1/users/me/device-keys", authUser, h(s.getDeviceKeys)},

		// applications (applications.yml): admin tokens only
		{"POST /cis/v1/applications", authAdmin, h(s.createApp)},
		{"GET /cis/v1/applications", authAdmin, h(s.listApps)},
		{"GET /cis/v1/applications/list", authAdmin, h(s.listAppsBasic)},
		{"GET /cis/v1/applications/{appId}", authAdmin, h(s.getApp)},
		{"PUT /cis/v1/applications/{appId}", authAdmin, h(s.updateApp)},
		{"DELETE /cis/v1/applications/{appId}", authAdmin, h(s.deleteApp)},
		{"PUT /cis/v1/applications/{appId}/resources", authAdmin, h(s.updateAppResources)},
		{"POST /cis/v1/applications/{appId}/clients", authAdmin, h(s.createClient)},
		{"GET /cis/v1/applications/{appId}/clients", authAdmin, h(s.listClients)},
		{"DELETE /cis/v1/applications/{appId}/clients", authAdmin, h(s.deleteClients)},
		{"GET /cis/v1/applications/{appId}/clients/{clientId}", authAdmin, h(s.getClient)},
		{"PUT /cis/v1/applications/{appId}/clients/{clientId}", authAdmin, h(s.updateClient)},
		{"DELETE /cis/v1/applications/{appId}/clients/{clientId}", authAdmin, h(s.deleteClient)},
		{"PUT /cis/v1/applications/{appId}/clients/{clientId}/resources", authAdmin, h(s.updateClientResources)},
		{"POST /cis/v1/applications/{appId}/clients/{clientId}/secret", authAdmin, h(s.rotateClientSecret)},
		{"GET /cis/v1/applications/signing-keys", authAdmin, h(s.listSigningKeys)},
		{"POST /cis/v1/applications/signing-keys", authAdmin, h(s.rotateSigningKey)},
		{"POST /cis/v1/applications/signing-keys/upload", authAdmin, notImplemented("Uploading a signing key")},

		// operations; / is the landing page (HTML for a browser, JSON otherwise)
		{"/{$}", authNone, h(s.landing)},
		{"GET /healthz", authNone, h(s.healthz)},
		{"GET /readyz", authNone, h(s.readyz)},
		{"GET /metrics", authNone, s.metricsHandler()},
		{"GET /openapi.yaml", authNone, h(s.openapi)},
	}
	if s.Dev {
		routes = append(routes, route{"GET /dev/outbox.json", authNone, h(s.outboxJSON)},
			route{"/dev/outbox", authNone, s.Web}, route{"/dev/outbox/", authNone, s.Web},
			route{"/demo", authNone, s.Web}, route{"/demo/", authNone, s.Web})
	}
	return routes
}
