package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUserCLI: `latch user` creates, finds and deletes users in the data directory, printing them
// in the ApiUser shape, and refuses bad input with the API's message.
func TestUserCLI(t *testing.T) {
	cliEnv(t)
	dir := []string{"--data-dir", t.TempDir()}
	run := func(args ...string) (map[string]any, error) {
		t.Helper()
		out, err := runCLI(t, append(args, dir...)...)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v printed %q, not a JSON object", args, out)
		}
		return m, nil
	}
	created, err := run("user", "create", "--email", "Ops@Example.com", "--phone", "+15551230000")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := created["user_id"].(string)
	email, _ := created["email"].(map[string]any)
	if id == "" || email["value"] != "ops@example.com" || created["status"] != "Active" {
		t.Fatalf("created %v", created)
	}
	for _, by := range [][]string{{"--id", id}, {"--email", "ops@example.com"}, {"--phone", "+15551230000"}} {
		got, err := run(append([]string{"user", "get"}, by...)...)
		if err != nil || got["user_id"] != id {
			t.Fatalf("get %v: %v %v", by, got, err)
		}
	}
	if _, err := run("user", "create", "--email", "ops@example.com"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate email: %v", err)
	}
	if _, err := run("user", "create", "--phone", "12345"); err == nil || !strings.Contains(err.Error(), "phone_number") {
		t.Fatalf("bad phone: %v", err)
	}
	if _, err := run("user", "get", "--email", "a@b.co", "--id", id); err == nil {
		t.Fatal("two identifiers accepted")
	}
	if got, err := run("user", "delete", "--email", "ops@example.com"); err != nil || got["deleted"] != id {
		t.Fatalf("delete: %v %v", got, err)
	}
	if _, err := run("user", "get", "--id", id); err == nil || !strings.Contains(err.Error(), "User not found") {
		t.Fatalf("get after delete: %v", err)
	}
}
