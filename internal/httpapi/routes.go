package httpapi

import (
	"net/http"

	"github.com/latch-auth/latch/internal/hosted"
	"github.com/latch-auth/latch/internal/magiclink"
)

type route struct {
	pattern string
	auth    authKind
	handler http.Handler
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

		// users (users.yml)
		{"POST /cis/v1/users", authClient, h(s.createUser)},
		{"GET /cis/v1/users", authClient, h(s.listUsers)},
		{"GET /cis/v1/users/count", authClient, h(s.countUsers)},
		{"GET /cis/v1/users/identifier", authClient, h(s.getUserByIdentifier)},
		{"GET /cis/v1/users/{user_id}", authClient, h(s.getUser)},
		{"PUT /cis/v1/users/{user_id}", authClient, h(s.updateUser)},
		{"GET /cis/v1/users/email/{email}", authClient, h(s.getUserByEmail)},
		{"GET /cis/v1/users/phone-number/{phone_number}", authClient, h(s.getUserByPhone)},
		{"GET /cis/v1/users/phone/{phone_number}", authClient, h(s.getUserByPhone)},
		{"GET /cis/v1/users/username/{username}", authClient, h(s.getUserByUsername)},
		{"DELETE /cis/v1/manage/users/{user_id}", authClient, h(s.deleteUser)},

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
