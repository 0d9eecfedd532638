// Package device owns what a login request may say about the end user's device — its id and its
// client attributes — and how those are validated. Login methods accept these fields; Latch does
// not store them. It never decides anything about a login.
package device

import "github.com/latch-auth/latch/internal/apierr"

// Attributes are client_attributes: the end user's device as the calling backend describes it.
type Attributes struct {
	UserAgent string `json:"user_agent"`
	IPAddress string `json:"ip_address"`
}

// MaxIDLength bounds device_id.
const MaxIDLength = 80

// ValidID checks device_id's length.
func ValidID(id string) error {
	if len(id) > MaxIDLength {
		return apierr.Invalid("device_id", "must be at most 80 characters")
	}
	return nil
}
