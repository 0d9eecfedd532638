package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCLIMistakes: a mistyped command or flag fails (exit status 1 in main) with one line that
// suggests the closest name and points at --help.
func TestCLIMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"srve"}, `unknown command "srve" for "latch" (did you mean "serve"?); see 'latch --help'`},
		{[]string{"app", "creat"}, `unknown command "creat" for "latch app" (did you mean "create"?); see 'latch app --help'`},
		{[]string{"keys", "nothing-like-it"}, `unknown command "nothing-like-it" for "latch keys"; see 'latch keys --help'`},
		{[]string{"serve", "--adr", "x"}, `unknown flag --adr for "latch serve" (did you mean --addr?); see 'latch serve --help'`},
		{[]string{"serve", "--smtp-hots", "x"}, `unknown flag --smtp-hots for "latch serve" (did you mean --smtp-host?); see 'latch serve --help'`},
		{[]string{"user", "get", "--emial", "a@b.c"}, `unknown flag --emial for "latch user get" (did you mean --email?); see 'latch user get --help'`},
		{[]string{"serve", "--data-dir"}, `flag needs an argument: --data-dir; see 'latch serve --help'`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			root := rootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tc.args)
			err := root.Execute()
			if err == nil {
				t.Fatalf("no error; printed %q", out.String())
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err.Error(), tc.want)
			}
		})
	}
	// A group without a subcommand shows its help and succeeds.
	root := rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"app"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Available Commands:") {
		t.Errorf("latch app: %v, %q", err, out.String())
	}
}
