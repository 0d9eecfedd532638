package session

import (
	"fmt"
	"regexp"

	"github.com/latch-auth/latch/internal/apierr"
)

var approvalKey = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ValidateApprovalData checks approval_data: a flat object of at most 10 keys made of letters,
// digits, '_', '-' and '.', whose values are strings, numbers or booleans (at most 1024 chars).
func ValidateApprovalData(d map[string]any) error {
	if d == nil {
		return nil
	}
	if len(d) > 10 {
		return apierr.Invalid("approval_data", "must have at most 10 keys")
	}
	for k, v := range d {
		if !approvalKey.MatchString(k) {
			return apierr.Invalid("approval_data", fmt.Sprintf("key %q must be 1 to 64 letters, digits, '_', '-' or '.'", k))
		}
		switch val := v.(type) {
		case string:
			if len(val) > 1024 {
				return apierr.Invalid("approval_data."+k, "must be at most 1024 characters")
			}
		case float64, bool:
		default:
			return apierr.Invalid("approval_data."+k, "must be a string, number or boolean (the object must be flat)")
		}
	}
	return nil
}
