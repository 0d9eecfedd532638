// Command latch is the Latch login server and its operator CLI: it reads the Config from flags
// and the environment, gets its node from internal/node (the one assembly of store, services and
// HTTP API), listens, and prints what an operator needs. It wires no service itself.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "latch:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "latch",
		Short:         "Latch: a self-hosted passwordless login and TOTP server speaking Mosaic's API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), appCmd(), clientCmd(), keysCmd(), versionCmd(), benchCmd(), userCmd())
	strictCommands(root)
	return root
}
