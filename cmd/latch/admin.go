package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latch-auth/latch/internal/apierr"
	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/token"
)

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}

// withNode runs an admin command's work against the storage half of a node on the configured
// database, closing it after.
func withNode(cfg *config.Config, fn func(ctx context.Context, n *node.Node) error) error {
	ctx := context.Background()
	n, err := node.Open(ctx, cfg, node.Options{})
	if err != nil {
		return err
	}
	defer n.Close()
	return fn(ctx, n)
}

// printCredentials prints a new client's credentials, the only time its secret is shown.
func printCredentials(creds app.Credentials, asJSON bool) error {
	if asJSON {
		return printJSON(creds)
	}
	if creds.ClientSecret == "" {
		fmt.Printf("app_id:        %s\nclient_id:     %s\n(a public client: no secret; it must use PKCE)\n", creds.AppID, creds.ClientID)
		return nil
	}
	fmt.Printf("app_id:        %s\nclient_id:     %s\nclient_secret: %s\n(the secret is shown only now)\n", creds.AppID, creds.ClientID, creds.ClientSecret)
	return nil
}

// userError turns an API error into a CLI message.
func userError(err error) error {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return errors.New(ae.Message)
	}
	if errors.Is(err, store.ErrConflict) {
		return errors.New("already exists")
	}
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("not found")
	}
	return err
}

func appCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "app", Short: "Manage applications"}
	var cfg config.Config
	var name string
	var redirects []string
	var allowSignup, asJSON, admin bool
	var settings []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an application and its first client",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := app.DefaultSettings()
			for _, kv := range settings {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--setting %q: want name=value, such as send_limit=10", kv)
				}
				if err := s.Set(k, v); err != nil {
					return fmt.Errorf("--setting %w", err)
				}
			}
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				creds, err := n.Apps.CreateApp(ctx, app.NewApp{Name: name, RedirectURIs: redirects, AllowSignup: allowSignup, Admin: admin, Settings: s})
				if err != nil {
					return userError(err)
				}
				return printCredentials(creds, asJSON)
			})
		},
	}
	cfg.BindStorage(create.Flags())
	create.Flags().StringVar(&name, "name", "", "application name (required)")
	create.Flags().StringArrayVar(&redirects, "redirect-uri", nil, "allowed redirect URI (repeatable)")
	create.Flags().BoolVar(&allowSignup, "allow-signup", false, "hosted flows may create users")
	create.Flags().BoolVar(&admin, "admin", false, "a management application: its client gets admin tokens")
	create.Flags().BoolVar(&asJSON, "json", false, "print {app_id, client_id, client_secret} as JSON")
	create.Flags().StringArrayVar(&settings, "setting", nil, "an application setting as name=value, such as app_sends_per_minute=6000 (repeatable; names as in the admin API)")
	create.MarkFlagRequired("name")
	cmd.AddCommand(create, appList(), appGet(), appUpdate(), appDelete())
	return cmd
}

func clientCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage application clients"}
	var cfg config.Config
	var appID string
	var asJSON, admin, public bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Add a client (id and secret) to an application",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				if public && admin {
					return errors.New("--public and --admin cannot be combined: an admin client needs a secret")
				}
				var creds app.Credentials
				var err error
				if public {
					creds, err = n.Apps.CreatePublicClient(ctx, appID)
				} else {
					creds, err = n.Apps.CreateClient(ctx, appID, admin)
				}
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no application with id %q", appID)
				}
				if err != nil {
					return userError(err)
				}
				return printCredentials(creds, asJSON)
			})
		},
	}
	cfg.BindStorage(create.Flags())
	create.Flags().StringVar(&appID, "app", "", "application id (required)")
	create.Flags().BoolVar(&admin, "admin", false, "an admin client")
	create.Flags().BoolVar(&public, "public", false, "a public client (a browser or mobile app): no secret; it signs users in with PKCE")
	create.Flags().BoolVar(&asJSON, "json", false, "print {app_id, client_id, client_secret} as JSON")
	create.MarkFlagRequired("app")
	cmd.AddCommand(create, clientList(), clientRotateSecret(), clientDelete())
	return cmd
}

func keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage token signing keys"}
	var cfg config.Config
	var asJSON bool
	var alg string
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Add a new signing key; older keys stay published until their tokens expire",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				if alg != "" {
					var err error
					if n.Keys.Alg, err = token.ParseAlg(alg); err != nil {
						return err
					}
				}
				kid, err := n.Keys.Rotate(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(map[string]string{"kid": kid})
				}
				fmt.Printf("new signing key %s: published at once, signing on every node within a minute\n", kid)
				return nil
			})
		},
	}
	cfg.BindStorage(rotate.Flags())
	rotate.Flags().StringVar(&alg, "signing-alg", "", "algorithm of the new key: ES256, RS256 or EdDSA (default: the current key's)")
	rotate.Flags().BoolVar(&asJSON, "json", false, "print {kid} as JSON")
	cmd.AddCommand(rotate)
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Printf("latch %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
