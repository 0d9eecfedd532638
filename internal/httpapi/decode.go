package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"unicode/utf8"

	"github.com/latch-auth/latch/internal/apierr"
)

// errTooLarge is the 413 for a body over MaxBody.
var errTooLarge = &apiError{status: http.StatusRequestEntityTooLarge, code: "payload_too_large", message: fmt.Sprintf("body: must be at most %d bytes", MaxBody)}

// readBody reads the (size-limited) body.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, apierr.Invalid("body", "could not be read")
	}
	return body, nil
}

// decode reads a JSON object into dst. An empty body is an empty object. Unknown fields are
// ignored; malformed JSON, a non-object, or a wrong type is a 400 naming the field.
func decode(r *http.Request, dst any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return apierr.Invalid("body", "must be a JSON object")
	}
	if !utf8.Valid(body) || bytes.Contains(body, []byte(`\u0000`)) {
		return apierr.Invalid("body", "must be valid UTF-8 without NUL characters")
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return apierr.Invalid(field, "must be "+kindName(typeErr.Type))
	}
	return apierr.Invalid("body", "malformed JSON")
}

func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of type " + t.String()
}
