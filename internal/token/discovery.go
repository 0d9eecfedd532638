package token

// Discovery builds the OpenID Provider metadata. grants lists the grant types the token endpoint
// really serves, and claims the claims Latch puts in ID tokens, so the document never promises
// more than the server does.
func Discovery(issuer string, grants, claims []string) map[string]any {
	return map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              issuer + "/cis/oidc/jwks",
		"token_endpoint":                        issuer + "/oidc/token",
		"grant_types_supported":                 grants,
		"response_types_supported":              []string{"code", "id_token"},
		"response_modes_supported":              []string{"query"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(Alg)},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"claims_supported":                      claims,
		"scopes_supported":                      []string{"openid"},
	}
}
