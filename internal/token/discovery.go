package token

// Discovery builds the OpenID Provider metadata. grants lists the grant types the token endpoint
// really serves, claims the claims Latch puts in ID tokens, and algs the algorithms of the
// published keys, so the document never promises more than the server does.
func Discovery(issuer string, grants, claims, algs []string) map[string]any {
	return map[string]any{
		"issuer":                                issuer,
		"jwks_uri":                              issuer + "/cis/oidc/jwks",
		"token_endpoint":                        issuer + "/oidc/token",
		"grant_types_supported":                 grants,
		"response_types_supported":              []string{"code", "id_token"},
		"response_modes_supported":              []string{"query"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"claims_supported":                      claims,
		"scopes_supported":                      []string{"openid"},
	}
}
