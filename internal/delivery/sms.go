package delivery

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxSMSTemplateLen is the longest SMS template ValidateSMSTemplate accepts.
const maxSMSTemplateLen = 140

const (
	defaultSMSTemplate         = "{otp} is your {app} login code. It expires in {minutes} minutes."
	defaultSMSTemplateNoExpiry = "{otp} is your {app} login code."
)

// RenderSMS renders an SMS body, replacing {otp}, {app} and {minutes} in
// template (or in the default wording when template is empty).
func RenderSMS(template, appName, code string, minutes int) string {
	if strings.TrimSpace(template) == "" {
		template = defaultSMSTemplate
		if minutes <= 0 {
			template = defaultSMSTemplateNoExpiry
		} else if minutes == 1 {
			template = strings.Replace(template, "minutes.", "minute.", 1)
		}
	}
	// One pass, so placeholders inside the app name are not expanded again.
	r := strings.NewReplacer(
		"{otp}", code,
		"{app}", strings.Join(strings.Fields(appName), " "),
		"{minutes}", strconv.Itoa(max(minutes, 0)),
	)
	return r.Replace(template)
}

// ValidateSMSTemplate returns what is wrong with a custom SMS template, or ""
// when it is usable; an empty template is valid and means the default.
func ValidateSMSTemplate(t string) string {
	if t == "" {
		return ""
	}
	switch {
	case utf8.RuneCountInString(t) > maxSMSTemplateLen:
		return "must be at most 140 characters"
	case !strings.Contains(t, "{otp}"):
		return "must contain {otp}"
	case !strings.Contains(t, "{app}"):
		return "must contain {app}"
	}
	return ""
}
