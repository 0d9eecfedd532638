package user

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

// API renders a user in Mosaic's ApiUser shape for application appID: its own
// external_account_id and custom_app_data, never another application's.
func API(u store.User, appID string) map[string]any {
	out := map[string]any{
		"user_id":           u.ID,
		"status":            u.Status,
		"created_at":        u.CreatedAt.UnixMilli(),
		"updated_at":        u.UpdatedAt.UnixMilli(),
		"status_changed_at": u.StatusChangeAt.UTC().Format(time.RFC3339),
	}
	if u.Email != "" {
		out["email"] = map[string]any{"value": u.Email, "email_verified": u.EmailVerified}
	}
	if u.Phone != "" {
		out["phone_number"] = map[string]any{"value": u.Phone, "phone_number_verified": u.PhoneVerified}
	}
	if u.Username != "" {
		out["username"] = u.Username
	}
	if !u.LastAuth.IsZero() {
		out["last_auth"] = u.LastAuth.UTC().Format(time.RFC3339)
	}
	var p map[string]any
	if json.Unmarshal(u.Profile, &p) == nil {
		for k, v := range p {
			if !slices.Contains(appOwned, k) {
				out[k] = v
			}
		}
	}
	var typed Profile
	if json.Unmarshal(u.Profile, &typed) == nil {
		if mine, ok := typed.Apps[appID]; ok && appID != "" {
			if mine.ExternalAccountID != "" {
				out["external_account_id"] = mine.ExternalAccountID
			}
			if mine.CustomAppData != nil {
				out["custom_app_data"] = mine.CustomAppData
			}
		}
	}
	return out
}
