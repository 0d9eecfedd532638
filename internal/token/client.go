package token

import (
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/secret"
	"github.com/latch-auth/latch/internal/store"
)

// AdminRole is the role carried by tokens of management (admin) clients.
const AdminRole = "admin"

// ClientTokenResponse is the body of a client_credentials grant.
type ClientTokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// ClientCredentials mints a client access token (reference notes §3.6). resource, when given,
// must be one of the app's resources and becomes the audience.
func (s *Signer) ClientCredentials(c store.Client, a app.App, resource string) (ClientTokenResponse, error) {
	aud := APIAudience
	if resource != "" {
		if !a.HasResource(resource) {
			return ClientTokenResponse{}, apierr.Invalid("resource", "is not a resource of this application")
		}
		aud = resource
	}
	ttl := a.Settings.AccessTokenTTLSeconds
	iat, exp := s.Lifetime(time.Duration(ttl) * time.Second)
	roles := []string{}
	if c.Admin {
		roles = append(roles, AdminRole)
	}
	const scope = "openid"
	tok, err := s.Sign(map[string]any{
		"iss": s.Issuer, "sub": c.ClientID, "aud": aud, "iat": iat, "exp": exp, "jti": secret.NewID(),
		"tid": a.TenantID, "client_id": c.ClientID, "app_id": a.ID, "app_name": a.Name,
		"scope": scope, "roles": roles,
	})
	if err != nil {
		return ClientTokenResponse{}, err
	}
	return ClientTokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: ttl, Scope: scope}, nil
}
