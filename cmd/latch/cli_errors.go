package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// strictCommands makes every mistyped command or flag an error (exit status 1) in one line that
// suggests the closest name and points at --help. Cobra, left alone, suggests only for top-level
// commands and prints a group's help with status 0 for an unknown subcommand ("latch app creat").
func strictCommands(cmd *cobra.Command) {
	if cmd.Parent() == nil {
		cmd.SetFlagErrorFunc(flagError)
	}
	if cmd.HasSubCommands() && cmd.Run == nil && cmd.RunE == nil {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
			c.SuggestionsMinimumDistance = 2 // cobra's own default, which SuggestionsFor does not apply
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return fmt.Errorf("%s; see '%s --help'", msg, c.CommandPath())
		}
	}
	for _, sub := range cmd.Commands() {
		strictCommands(sub)
	}
}

// flagError adds the closest flag of the command to an "unknown flag" error, and --help to any.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		msg = fmt.Sprintf("unknown flag --%s for %q", name, c.CommandPath())
		if best := closestFlag(c, name); best != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", best)
		}
	}
	return fmt.Errorf("%s; see '%s --help'", msg, c.CommandPath())
}

// closestFlag is the command's flag nearest to name (an edit distance of at most a third of its
// length, at least 2), or one that name is the start of; "" when none is near.
func closestFlag(c *cobra.Command, name string) string {
	best, bestDist := "", max(2, len(name)/3)+1
	visit := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) && d > 0 {
			d = 1
		}
		if d < bestDist {
			best, bestDist = f.Name, d
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
