package httpapi_test

import (
	"bufio"
	"bytes"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/latch-auth/latch/internal/httpapi"
)

// openapiOp is one operation of openapi.yaml as the line scan sees it.
type openapiOp struct {
	security    []string // scheme names; "{}" for the anonymous alternative
	hasSecurity bool     // the operation has its own security key
}

var (
	openapiPathLine   = regexp.MustCompile(`^  (/\S*):$`)
	openapiMethodLine = regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):$`)
	openapiSecNone    = regexp.MustCompile(`^      security: \[\]$`)
	openapiSecStart   = regexp.MustCompile(`^      security:$`)
	openapiSecItem    = regexp.MustCompile(`^        - (?:(\w+): \[\]|(\{\}))$`)
)

// openapiOperations scans openapi.yaml's paths section, which keeps a strict layout: a path at
// two spaces, its methods at four, an operation's keys at six. It returns the operations keyed
// like route patterns ("GET /path").
func openapiOperations(t *testing.T, doc []byte) map[string]openapiOp {
	t.Helper()
	ops := map[string]openapiOp{}
	inPaths, path, key, inSec := false, "", "", false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' { // a top-level key
			inPaths = line == "paths:"
			path, key = "", ""
			continue
		}
		if !inPaths {
			continue
		}
		if inSec {
			if m := openapiSecItem.FindStringSubmatch(line); m != nil {
				op := ops[key]
				op.security = append(op.security, m[1]+m[2])
				ops[key] = op
				continue
			}
			inSec = false
		}
		switch {
		case openapiPathLine.MatchString(line):
			path, key = openapiPathLine.FindStringSubmatch(line)[1], ""
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   "):
			t.Fatalf("openapi.yaml: unexpected line in paths: %q", line)
		case openapiMethodLine.MatchString(line):
			if path == "" {
				t.Fatalf("openapi.yaml: method outside a path: %q", line)
			}
			key = strings.ToUpper(openapiMethodLine.FindStringSubmatch(line)[1]) + " " + path
			if _, dup := ops[key]; dup {
				t.Fatalf("openapi.yaml: %s listed twice", key)
			}
			ops[key] = openapiOp{}
		case key != "" && openapiSecNone.MatchString(line):
			ops[key] = openapiOp{hasSecurity: true}
		case key != "" && openapiSecStart.MatchString(line):
			ops[key] = openapiOp{hasSecurity: true}
			inSec = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatal("openapi.yaml: no operations found under paths:")
	}
	return ops
}

// openapiSecurity is the security an operation must declare for a route's auth kind.
var openapiSecurity = map[httpapi.AuthKind][]string{
	httpapi.AuthNone:   nil,
	httpapi.AuthClient: {"ClientAccessToken"},
	httpapi.AuthUser:   {"UserAccessToken"},
	httpapi.AuthAdmin:  {"AdminAccessToken"},
	httpapi.AuthUsers:  {"ClientAccessToken", "AdminAccessToken"},
}

// ownCredentials are the routes whose handler reads its credentials itself (authNone in the
// route table) and the security openapi.yaml must declare for them: the client by HTTP Basic or
// the form fields, or a user access token in the header or the form.
var ownCredentials = map[string][]string{
	"POST /oidc/token":                   {"clientSecret", "{}"},
	"POST /oidc/token/revocation":        {"clientSecret", "{}"},
	"POST /cis/oidc/token/revocation":    {"clientSecret", "{}"},
	"POST /oidc/token/introspection":     {"clientSecret", "{}"},
	"POST /cis/oidc/token/introspection": {"clientSecret", "{}"},
	"GET /cis/oidc/me":                   {"UserAccessToken", "{}"},
	"POST /cis/oidc/me":                  {"UserAccessToken", "{}"},
	"GET /oidc/me":                       {"UserAccessToken", "{}"},
	"POST /oidc/me":                      {"UserAccessToken", "{}"},
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	if !bytes.HasPrefix(httpapi.OpenAPIDoc, []byte("openapi: 3.0.3\n")) {
		t.Fatalf("openapi.yaml must start with %q", "openapi: 3.0.3")
	}
	ops := openapiOperations(t, httpapi.OpenAPIDoc)
	ts := sqliteServer(t)
	listed := map[string]bool{}
	for _, r := range ts.API.Routes() {
		method, path, ok := strings.Cut(r.Described, " ")
		if !ok || strings.HasPrefix(path, "/demo") || (strings.HasPrefix(path, "/dev/") && path != "/dev/outbox.json") {
			continue // catch-all pages (no method) and the dev HTML pages are not API operations
		}
		listed[r.Described] = true
		op, ok := ops[method+" "+path]
		if !ok {
			t.Errorf("route %q is missing from openapi.yaml", r.Pattern)
			continue
		}
		if !op.hasSecurity {
			t.Errorf("%s: the operation must declare its security", r.Pattern)
			continue
		}
		if want, ok := ownCredentials[r.Pattern]; ok {
			if !slices.Equal(op.security, want) {
				t.Errorf("%s: security = %v, want %v (the handler reads its own credentials)", r.Pattern, op.security, want)
			}
			continue
		}
		want, known := openapiSecurity[r.Auth]
		if !known {
			t.Errorf("%s: auth kind %d has no security scheme in openapi.yaml", r.Pattern, r.Auth)
		} else if !slices.Equal(op.security, want) {
			t.Errorf("%s: security = %v, want %v", r.Pattern, op.security, want)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ops)) {
		if !listed[k] {
			t.Errorf("openapi.yaml describes %q, which is not a route of routes()", k)
		}
	}
	t.Logf("%d routes described", len(listed))
}

func TestOpenAPIServed(t *testing.T) {
	ts := sqliteServer(t)
	r := ts.Do(t, http.MethodGet, "/openapi.yaml", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control = %q, want public, max-age=300", cc)
	}
	if !bytes.HasPrefix(r.Body, []byte("openapi: 3.0.3\n")) || !bytes.Equal(r.Body, httpapi.OpenAPIDoc) {
		t.Errorf("body is not the embedded openapi.yaml (starts %q)", r.Body[:min(len(r.Body), 40)])
	}
}
