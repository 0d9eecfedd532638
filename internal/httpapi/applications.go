package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
)

// The applications API (applications.yml), for admin tokens. Every answer is read from the
// store, not the per-node cache; every change drops this node's cache entry, and the other
// nodes' expire within the app cache's TTL.

// appInput is the body of create and update (ApiCreateAppInput / ApiUpdateAppInput, the fields
// Latch has, plus its own settings and admin flag). A nil field is left unchanged by update.
type appInput struct {
	Name              *string               `json:"app_name"`
	Description       *string               `json:"app_description"`
	AllowSignup       *bool                 `json:"allow_public_signup"`
	RedirectURIs      *[]string             `json:"redirect_uris"`
	Resources         *[]string             `json:"resources"`
	Logo              *string               `json:"logo"`
	ClientName        *string               `json:"client_display_name"`
	ClientDescription *string               `json:"client_description"`
	LoginPreferences  *app.LoginPreferences `json:"login_preferences"`
	Settings          json.RawMessage       `json:"settings"`
	Admin             *bool                 `json:"admin"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func list(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}

// appResult is the ApiApp body of an application with its oldest client.
func (s *Server) appResult(r *http.Request, a app.App) (map[string]any, error) {
	clients, err := s.Apps.Clients(r.Context(), a.ID)
	if err != nil {
		return nil, err
	}
	return app.API(a, app.FirstClient(clients)), nil
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	var in appInput
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	st, err := app.DefaultSettings().Change(in.Settings, in.LoginPreferences, in.Logo)
	if err != nil {
		writeError(w, r, err)
		return
	}
	allow, admin := in.AllowSignup != nil && *in.AllowSignup, in.Admin != nil && *in.Admin
	creds, err := s.Apps.CreateApp(r.Context(), app.NewApp{Name: str(in.Name), Description: str(in.Description),
		RedirectURIs: list(in.RedirectURIs), AllowSignup: allow, Resources: list(in.Resources), Admin: admin, Settings: st,
		ClientName: str(in.ClientName), ClientDesc: str(in.ClientDescription)})
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.Apps.Get(r.Context(), creds.AppID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.appResult(r, a)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res["client_secret"] = creds.ClientSecret // shown this once
	writeJSON(w, http.StatusCreated, map[string]any{"result": res})
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.Apps.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(apps))
	for _, a := range apps {
		res, err := s.appResult(r, a)
		if err != nil {
			writeError(w, r, err)
			return
		}
		delete(res, "logo") // ApiAppWithoutLogo
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (s *Server) listAppsBasic(w http.ResponseWriter, r *http.Request) {
	apps, err := s.Apps.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(apps))
	for _, a := range apps {
		out = append(out, app.APIBasic(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

func (s *Server) writeApp(w http.ResponseWriter, r *http.Request, a app.App, err error) {
	if err == nil {
		var res map[string]any
		if res, err = s.appResult(r, a); err == nil {
			writeJSON(w, http.StatusOK, map[string]any{"result": res})
			return
		}
	}
	writeError(w, r, err)
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.Apps.Get(r.Context(), r.PathValue("appId"))
	s.writeApp(w, r, a, err)
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) {
	var in appInput
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.Apps.UpdateApp(r.Context(), r.PathValue("appId"), app.Update{Name: in.Name, Description: in.Description,
		RedirectURIs: in.RedirectURIs, AllowSignup: in.AllowSignup, Resources: in.Resources, Logo: in.Logo,
		Settings: in.Settings, LoginPreferences: in.LoginPreferences})
	s.writeApp(w, r, a, err)
}

// resourcesInput is ApiUpdateResourceInAppInput.
type resourcesInput struct {
	ResourceIDs *[]string `json:"resource_ids"`
}

func decodeResources(r *http.Request) (*[]string, error) {
	var in resourcesInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.ResourceIDs == nil {
		return nil, apierr.Invalid("resource_ids", "is required")
	}
	return in.ResourceIDs, nil
}

func (s *Server) updateAppResources(w http.ResponseWriter, r *http.Request) {
	rs, err := decodeResources(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.Apps.UpdateApp(r.Context(), r.PathValue("appId"), app.Update{Resources: rs})
	s.writeApp(w, r, a, err)
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	if err := s.Apps.DeleteApp(r.Context(), r.PathValue("appId")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clientInput is the body of client create and update (ApiCreateOidcClientInput /
// ApiUpdateOidcClientInput, the fields Latch has). Redirect URIs are the application's: a
// create adds those it lacks, an update replaces the application's list.
type clientInput struct {
	Name         *string   `json:"name"`
	Description  *string   `json:"description"`
	RedirectURIs *[]string `json:"redirect_uris"`
	Admin        *bool     `json:"admin"`
	Public       *bool     `json:"public"`
}

// writeClient answers a client of appID (secret: shown only right after a create or a rotation).
func (s *Server) writeClient(w http.ResponseWriter, r *http.Request, status int, c store.Client, secret string) {
	a, err := s.Apps.Get(r.Context(), c.AppID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res := app.APIClient(a, c)
	if secret != "" {
		res["client_secret"] = secret
	}
	writeJSON(w, status, res)
}

func (s *Server) createClient(w http.ResponseWriter, r *http.Request) {
	var in clientInput
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	creds, c, err := s.Apps.AddClient(r.Context(), r.PathValue("appId"), app.NewClient{Name: str(in.Name),
		Description: str(in.Description), Admin: in.Admin != nil && *in.Admin, Public: in.Public != nil && *in.Public, RedirectURIs: list(in.RedirectURIs)})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeClient(w, r, http.StatusCreated, c, creds.ClientSecret)
}

func (s *Server) listClients(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appId")
	clients, err := s.Apps.Clients(r.Context(), appID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	a, err := s.Apps.Get(r.Context(), appID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(clients))
	for _, c := range clients {
		out = append(out, app.APIClient(a, c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteClients(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("appId")
	clients, err := s.Apps.Clients(r.Context(), appID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, c := range clients {
		if err := s.Apps.DeleteClient(r.Context(), appID, c.ClientID); err != nil {
			writeError(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	c, err := s.Apps.Client(r.Context(), r.PathValue("appId"), r.PathValue("clientId"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeClient(w, r, http.StatusOK, c, "")
}

func (s *Server) updateClient(w http.ResponseWriter, r *http.Request) {
	var in clientInput
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	appID, clientID := r.PathValue("appId"), r.PathValue("clientId")
	if _, err := s.Apps.Client(r.Context(), appID, clientID); err != nil {
		writeError(w, r, err)
		return
	}
	if in.RedirectURIs != nil {
		if _, err := s.Apps.UpdateApp(r.Context(), appID, app.Update{RedirectURIs: in.RedirectURIs}); err != nil {
			writeError(w, r, err)
			return
		}
	}
	c, err := s.Apps.UpdateClient(r.Context(), appID, clientID, app.ClientUpdate{Name: in.Name, Description: in.Description})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeClient(w, r, http.StatusOK, c, "")
}

func (s *Server) updateClientResources(w http.ResponseWriter, r *http.Request) {
	rs, err := decodeResources(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	appID, clientID := r.PathValue("appId"), r.PathValue("clientId")
	c, err := s.Apps.Client(r.Context(), appID, clientID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.Apps.UpdateApp(r.Context(), appID, app.Update{Resources: rs}); err != nil {
		writeError(w, r, err)
		return
	}
	s.writeClient(w, r, http.StatusOK, c, "")
}

func (s *Server) deleteClient(w http.ResponseWriter, r *http.Request) {
	if err := s.Apps.DeleteClient(r.Context(), r.PathValue("appId"), r.PathValue("clientId")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateInput is the body of a secret rotation (Latch's own route).
type rotateInput struct {
	GracePeriodSeconds int `json:"grace_period_seconds"`
}

func (s *Server) rotateClientSecret(w http.ResponseWriter, r *http.Request) {
	var in rotateInput
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	creds, c, err := s.Apps.RotateSecret(r.Context(), r.PathValue("appId"), r.PathValue("clientId"), time.Duration(in.GracePeriodSeconds)*time.Second)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeClient(w, r, http.StatusOK, c, creds.ClientSecret)
}

// signingKey is a key in the ApiTokenSigningKey shape; keys are the tenant's, so app_id is "".
func (s *Server) signingKey(k token.KeyInfo, tenantID string) map[string]any {
	updated := k.CreatedAt
	if !k.RetiredAt.IsZero() {
		updated = k.RetiredAt
	}
	out := map[string]any{"id": k.KID, "kid": k.KID, "name": k.KID, "app_id": "", "tenant_id": tenantID, "status": k.Status,
		"source": "mosaic", "alg": k.Alg, "created_at": apiTime(k.CreatedAt), "updated_at": apiTime(updated),
		// deleted_at is when the key leaves the JWKS; the newest key has no such time yet.
		"deleted_at": apiTime(time.Unix(0, 0))}
	if !k.RemovedAt.IsZero() {
		out["deleted_at"] = apiTime(k.RemovedAt)
	}
	return out
}

func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) listSigningKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.Keys.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	tid, err := s.Apps.TenantID(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.signingKey(k, tid))
	}
	writeJSON(w, http.StatusOK, out)
}

// keyInput is CreateTokenSigningKeyInput; Latch names keys by their kid and keeps no name.
type keyInput struct {
	Name string `json:"name"`
}

// rotateSigningKey adds a signing key: published at once, signing on every node once it has
// propagated (as `latch keys rotate`).
func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request) {
	var in keyInput
	if err := decode(r, &in); err != nil {
		writeError(w, r, err)
		return
	}
	kid, err := s.Keys.Rotate(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	keys, err := s.Keys.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	tid, err := s.Apps.TenantID(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, k := range keys {
		if k.KID == kid {
			writeJSON(w, http.StatusCreated, s.signingKey(k, tid))
			return
		}
	}
	writeError(w, r, apierr.Internal())
}

// notImplemented answers an operation of the reference Latch does not offer (yet).
func notImplemented(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, apierr.New(http.StatusNotImplemented, "not_implemented", what+" is not implemented by Latch"))
	}
}
