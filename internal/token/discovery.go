package token

// Paths of the OpenID Provider endpoints, relative to the issuer (product.md: each is also served
// without its /cis prefix, or with it where the table lists the bare one).
const (
	AuthorizationPath = "/cis/oidc/auth"
	UserInfoPath      = "/cis/oidc/me"
	EndSessionPath    = "/cis/oidc/session/end"
	RevocationPath    = "/oidc/token/revocation"
	IntrospectionPath = "/oidc/token/introspection"
	TokenPath         = "/oidc/token"
	JWKSPath          = "/cis/oidc/jwks"
)

// Discovery builds the OpenID Provider metadata. grants lists the grant types the token endpoint
// really serves, claims the claims Latch puts in ID tokens and UserInfo, and algs the algorithms
// of the published keys, so the document never promises more than the server does.
func Discovery(issuer string, grants, claims, algs []string) map[string]any {
	// A confidential client authenticates with its secret at the token, revocation and
	// introspection endpoints; a public client (latch client create --public) sends only its
	// client_id ("none") to the first two, with PKCE at the token endpoint; introspection always
	// needs a secret.
	secretAuth := []string{"client_secret_basic", "client_secret_post"}
	publicAuth := []string{"client_secret_basic", "client_secret_post", "none"}
	return map[string]any{
		"issuer":                                        issuer,
		"authorization_endpoint":                        issuer + AuthorizationPath,
		"token_endpoint":                                issuer + TokenPath,
		"userinfo_endpoint":                             issuer + UserInfoPath,
		"jwks_uri":                                      issuer + JWKSPath,
		"end_session_endpoint":                          issuer + EndSessionPath,
		"revocation_endpoint":                           issuer + RevocationPath,
		"introspection_endpoint":                        issuer + IntrospectionPath,
		"grant_types_supported":                         grants,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query", "form_post"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         algs,
		"token_endpoint_auth_methods_supported":         publicAuth,
		"revocation_endpoint_auth_methods_supported":    publicAuth,
		"introspection_endpoint_auth_methods_supported": secretAuth,
		"code_challenge_methods_supported":              []string{"S256"},
		"prompt_values_supported":                       []string{"none", "login", "consent"},
		// acr_values=mfa asks for a second factor; the ID token's acr is mfa when it was given.
		"acr_values_supported": []string{"mfa"},
		"scopes_supported":     []string{"openid", "email", "phone", "offline_access"},
		"claims_supported":     claims,
		// Request objects are not supported (OIDC Discovery's default for request_uri is true).
		"request_parameter_supported":     false,
		"request_uri_parameter_supported": false,
	}
}
