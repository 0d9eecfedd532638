package session

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latch-auth/latch/internal/apierr"
)

// approvalOK is an independent statement of the approval_data rule: a flat object of at most 10
// keys of 1 to 64 letters, digits, '_', '-' or '.', whose values are strings of at most 1024
// bytes, numbers or booleans.
func approvalOK(d map[string]any) bool {
	if len(d) > 10 {
		return false
	}
	for k, v := range d {
		if len(k) < 1 || len(k) > 64 {
			return false
		}
		for _, r := range k {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
				return false
			}
		}
		switch val := v.(type) {
		case string:
			if len(val) > 1024 {
				return false
			}
		case float64, bool:
		default:
			return false
		}
	}
	return true
}

func TestValidateApprovalData(t *testing.T) {
	eleven := map[string]any{}
	ten := map[string]any{}
	for i := range 11 {
		eleven[string(rune('a'+i))] = "v"
		if i < 10 {
			ten[string(rune('a'+i))] = "v"
		}
	}
	tests := []struct {
		name    string
		data    map[string]any
		message string // "" means valid; else the start of the 400's message
	}{
		{"nil_is_valid", nil, ""},
		{"empty_is_valid", map[string]any{}, ""},
		{"reference_example", map[string]any{"transaction_id": "eFII2y40uB9hQ98nXt3tc1IHkRt8GrRZiqZuRn_59wT", "sum": "200"}, ""},
		{"numbers_and_booleans", map[string]any{"n": 1.5, "ok": true}, ""},
		{"key_punctuation", map[string]any{"a_b-c.d": "x"}, ""},
		{"ten_keys", ten, ""},
		{"64_char_key", map[string]any{strings.Repeat("k", 64): "x"}, ""},
		{"1024_char_value", map[string]any{"k": strings.Repeat("v", 1024)}, ""},
		{"eleven_keys", eleven, "approval_data: must have at most 10 keys"},
		{"nested_object", map[string]any{"k": map[string]any{"a": "b"}}, "approval_data.k: must be a string, number or boolean"},
		{"array", map[string]any{"k": []any{"a"}}, "approval_data.k: must be a string, number or boolean"},
		{"null_value", map[string]any{"k": nil}, "approval_data.k: must be a string, number or boolean"},
		{"space_in_key", map[string]any{"a b": "x"}, "approval_data: key \"a b\""},
		{"slash_in_key", map[string]any{"a/b": "x"}, "approval_data: key \"a/b\""},
		{"unicode_key", map[string]any{"clé": "x"}, "approval_data: key \"clé\""},
		{"empty_key", map[string]any{"": "x"}, "approval_data: key \"\""},
		{"65_char_key", map[string]any{strings.Repeat("k", 65): "x"}, "approval_data: key"},
		{"1025_char_value", map[string]any{"k": strings.Repeat("v", 1025)}, "approval_data.k: must be at most 1024 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateApprovalData(tc.data)
			if tc.message == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "system_invalid_input" || !strings.HasPrefix(ae.Message, tc.message) {
				t.Fatalf("got %v, want a 400 system_invalid_input starting %q", err, tc.message)
			}
		})
	}
}

// FuzzApprovalData feeds JSON objects to ValidateApprovalData: it never panics, accepts exactly
// what the rule allows, and refuses with a 400 naming approval_data.
func FuzzApprovalData(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"transaction_id":"eFII2y40uB9hQ98nXt3tc1IHkRt8GrRZiqZuRn_59wT","sum":"200"}`,
		`{"a":1,"b":true,"c":"x","d.e-f_g":2.5}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11}`,
		`{"nested":{"a":"b"}}`,
		`{"list":[1,2]}`,
		`{"null":null}`,
		`{"bad key":"x"}`,
		`{"":"x"}`,
		`{"\u00e9":"x"}`,
		`{"k\u0000":"x"}`,
		`{"k":"` + strings.Repeat("v", 1025) + `"}`,
		`{"` + strings.Repeat("k", 65) + `":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var d map[string]any
		if json.Unmarshal(raw, &d) != nil {
			return
		}
		err := ValidateApprovalData(d)
		if want := approvalOK(d); (err == nil) != want {
			t.Fatalf("ValidateApprovalData(%s) = %v, rule says valid=%v", raw, err, want)
		}
		if err == nil {
			// What is accepted survives the trip into an ID token unchanged.
			out, merr := json.Marshal(d)
			var back map[string]any
			if merr != nil || json.Unmarshal(out, &back) != nil || (len(d) > 0 && !reflect.DeepEqual(back, d)) {
				t.Fatalf("accepted data does not round-trip: %s", raw)
			}
			return
		}
		var ae *apierr.Error
		if !errors.As(err, &ae) || ae.Status != 400 || !strings.HasPrefix(ae.Message, "approval_data") || !utf8.ValidString(ae.Message) {
			t.Fatalf("refusal of %s is not a 400 naming approval_data: %v", raw, err)
		}
	})
}

func TestAddMethod(t *testing.T) {
	tests := []struct {
		name   string
		amr    []string
		method string
		want   []string
	}{
		{"first_factor", nil, "eotp", []string{"eotp"}},
		{"same_factor_again", []string{"eotp"}, "eotp", []string{"eotp"}},
		{"second_factor_adds_mfa", []string{"eotp"}, "sms", []string{"eotp", "sms", "mfa"}},
		{"third_factor_keeps_one_mfa", []string{"eotp", "sms", "mfa"}, "totp", []string{"eotp", "sms", "mfa", "totp"}},
		{"repeat_after_mfa", []string{"eotp", "sms", "mfa"}, "sms", []string{"eotp", "sms", "mfa"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]string(nil), tc.amr...)
			got := AddMethod(tc.amr, tc.method)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("AddMethod(%v, %q) = %v, want %v", tc.amr, tc.method, got, tc.want)
			}
			if !reflect.DeepEqual(tc.amr, in) {
				t.Fatalf("AddMethod changed its input to %v", tc.amr)
			}
		})
	}
}

func TestValidateClaims(t *testing.T) {
	tests := []struct {
		raw string
		ok  bool
	}{
		{``, true},
		{`null`, true},
		{`{}`, true},
		{`{"id_token":{"roles":null}}`, true},
		{`{"id_token":{"email":null},"access_token":{},"userinfo":{}}`, true},
		{`{"other":{}}`, false},
		{`{"id_token":"email"}`, false},
		{`[]`, false},
		{`"x"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			err := ValidateClaims(json.RawMessage(tc.raw))
			var ae *apierr.Error
			if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &ae) || !strings.HasPrefix(ae.Message, "claims: "))) {
				t.Fatalf("ValidateClaims(%s) = %v, want ok=%v", tc.raw, err, tc.ok)
			}
		})
	}
}
