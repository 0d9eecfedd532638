package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latch-auth/latch/internal/app"
	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/store"
)

// The operator's side of the applications API: the same services, the same JSON shapes with
// --json. A change made here reaches running nodes within 30 s (their app cache's TTL).

// appView is an application with its oldest client, as the API shows it.
func appView(ctx context.Context, n *node.Node, a app.App) (map[string]any, error) {
	clients, err := n.Apps.Clients(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	return app.API(a, app.FirstClient(clients)), nil
}

func printApp(v map[string]any, asJSON bool) error {
	if asJSON {
		return printJSON(v)
	}
	settings, _ := json.MarshalIndent(v["settings"], "  ", "  ")
	fmt.Printf("app_id:       %v\nname:         %v\ndescription:  %v\nclient_id:    %v\nadmin:        %v\nallow_signup: %v\nredirect_uris: %v\nresources:    %v\nsettings:     %s\n",
		v["app_id"], v["app_name"], v["app_description"], v["client_id"], v["admin"], v["allow_public_signup"], v["redirect_uris"], v["resources"], settings)
	return nil
}

func appList() *cobra.Command {
	var cfg config.Config
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the applications",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				apps, err := n.Apps.List(ctx)
				if err != nil {
					return userError(err)
				}
				out := make([]map[string]any, 0, len(apps))
				for _, a := range apps {
					v, err := appView(ctx, n, a)
					if err != nil {
						return userError(err)
					}
					out = append(out, v)
				}
				if asJSON {
					return printJSON(out)
				}
				for _, v := range out {
					fmt.Printf("%v  %v  (first client %v, admin %v)\n", v["app_id"], v["app_name"], v["client_id"], v["admin"])
				}
				return nil
			})
		},
	}
	cfg.BindStorage(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print the applications as the API does (ApiApp)")
	return c
}

func appGet() *cobra.Command {
	var cfg config.Config
	var id string
	var asJSON bool
	c := &cobra.Command{
		Use:   "get",
		Short: "Show an application and its settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				a, err := n.Apps.Get(ctx, id)
				if err != nil {
					return userError(err)
				}
				v, err := appView(ctx, n, a)
				if err != nil {
					return userError(err)
				}
				return printApp(v, asJSON)
			})
		},
	}
	cfg.BindStorage(c.Flags())
	c.Flags().StringVar(&id, "id", "", "application id (required)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the application as the API does (ApiApp)")
	c.MarkFlagRequired("id")
	return c
}

func appUpdate() *cobra.Command {
	var cfg config.Config
	var id, name, description string
	var redirects, resources, settings []string
	var allowSignup, asJSON bool
	c := &cobra.Command{
		Use:   "update",
		Short: "Change an application: name, description, redirect URIs, sign-up, resources, settings",
		Long: "Change an application. Only the flags given change anything; --redirect-uri and --resource replace the\n" +
			"lists. --setting name=value sets one setting (names as in the admin API's settings object, such as\n" +
			"otp_length=8, totp_algorithm=SHA256, require_mfa=true, users=read). Running nodes apply it within 30 s.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				a, err := n.Apps.Get(ctx, id)
				if err != nil {
					return userError(err)
				}
				var u app.Update
				if f.Changed("name") {
					u.Name = &name
				}
				if f.Changed("description") {
					u.Description = &description
				}
				if f.Changed("redirect-uri") {
					u.RedirectURIs = &redirects
				}
				if f.Changed("resource") {
					u.Resources = &resources
				}
				if f.Changed("allow-signup") {
					u.AllowSignup = &allowSignup
				}
				if len(settings) > 0 {
					patch := map[string]json.RawMessage{}
					st := a.Settings
					for _, kv := range settings {
						k, v, ok := strings.Cut(kv, "=")
						if !ok {
							return fmt.Errorf("--setting %q: want name=value, such as otp_length=8", kv)
						}
						if err := st.Set(k, v); err != nil {
							return fmt.Errorf("--setting %w", err)
						}
						full, _ := json.Marshal(st)
						var m map[string]json.RawMessage
						json.Unmarshal(full, &m)
						patch[k] = m[k]
					}
					u.Settings, _ = json.Marshal(patch)
				}
				a, err = n.Apps.UpdateApp(ctx, id, u)
				if err != nil {
					return userError(err)
				}
				v, err := appView(ctx, n, a)
				if err != nil {
					return userError(err)
				}
				return printApp(v, asJSON)
			})
		},
	}
	cfg.BindStorage(c.Flags())
	c.Flags().StringVar(&id, "id", "", "application id (required)")
	c.Flags().StringVar(&name, "name", "", "new name")
	c.Flags().StringVar(&description, "description", "", "new description")
	c.Flags().StringArrayVar(&redirects, "redirect-uri", nil, "redirect URI (repeatable; replaces the list)")
	c.Flags().StringArrayVar(&resources, "resource", nil, "resource (repeatable; replaces the list)")
	c.Flags().BoolVar(&allowSignup, "allow-signup", false, "hosted flows may create users")
	c.Flags().StringArrayVar(&settings, "setting", nil, "a setting as name=value (repeatable)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the application as the API does (ApiApp)")
	c.MarkFlagRequired("id")
	return c
}

func appDelete() *cobra.Command {
	var cfg config.Config
	var id string
	var asJSON bool
	c := &cobra.Command{
		Use:   "delete",
		Short: "Delete an application with its clients and sessions (its tokens are refused within 30 s)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				if err := n.Apps.DeleteApp(ctx, id); err != nil {
					return userError(err)
				}
				if asJSON {
					return printJSON(map[string]any{"app_id": id, "deleted": true})
				}
				fmt.Printf("application %s deleted\n", id)
				return nil
			})
		},
	}
	cfg.BindStorage(c.Flags())
	c.Flags().StringVar(&id, "id", "", "application id (required)")
	c.Flags().BoolVar(&asJSON, "json", false, `print {"app_id", "deleted": true}`)
	c.MarkFlagRequired("id")
	return c
}

// clientApp is the application of a client: --app when given, else the client's own.
func clientApp(ctx context.Context, n *node.Node, appID, clientID string) (string, error) {
	if appID != "" {
		return appID, nil
	}
	c, err := n.Store.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("no client with id %q", clientID)
	}
	return c.AppID, err
}

func clientList() *cobra.Command {
	var cfg config.Config
	var appID string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List an application's clients (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				clients, err := n.Apps.Clients(ctx, appID)
				if err != nil {
					return userError(err)
				}
				a, err := n.Apps.Get(ctx, appID)
				if err != nil {
					return userError(err)
				}
				out := make([]map[string]any, 0, len(clients))
				for _, cl := range clients {
					out = append(out, app.APIClient(a, cl))
				}
				if asJSON {
					return printJSON(out)
				}
				for _, v := range out {
					fmt.Printf("%v  %q  admin %v  created %v\n", v["client_id"], v["name"], v["admin"], v["created_at"])
				}
				return nil
			})
		},
	}
	cfg.BindStorage(c.Flags())
	c.Flags().StringVar(&appID, "app", "", "application id (required)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the clients as the API does (ApiOidcClient)")
	c.MarkFlagRequired("app")
	return c
}

func clientRotateSecret() *cobra.Command {
	var cfg config.Config
	var appID, clientID string
	var grace time.Duration
	var asJSON bool
	c := &cobra.Command{
		Use:   "rotate-secret",
		Short: "Give a client a new secret (shown once); the old one is refused at once or after --grace",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				id, err := clientApp(ctx, n, appID, clientID)
				if err != nil {
					return err
				}
				creds, _, err := n.Apps.RotateSecret(ctx, id, clientID, grace)
				if err != nil {
					return userError(err)
				}
				return printCredentials(creds, asJSON)
			})
		},
	}
	cfg.BindStorage(c.Flags())
	c.Flags().StringVar(&clientID, "client", "", "client id (required)")
	c.Flags().StringVar(&appID, "app", "", "application id (default: the client's)")
	c.Flags().DurationVar(&grace, "grace", 0, "how long the old secret keeps working, such as 1h (at most 720h; running nodes may accept it up to 30 s longer)")
	c.Flags().BoolVar(&asJSON, "json", false, "print {app_id, client_id, client_secret} as JSON")
	c.MarkFlagRequired("client")
	return c
}

func clientDelete() *cobra.Command {
	var cfg config.Config
	var appID, clientID string
	var asJSON bool
	c := &cobra.Command{
		Use:   "delete",
		Short: "Delete a client (its tokens are refused within 30 s)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withNode(&cfg, func(ctx context.Context, n *node.Node) error {
				id, err := clientApp(ctx, n, appID, clientID)
				if err != nil {
					return err
				}
				if err := n.Apps.DeleteClient(ctx, id, clientID); err != nil {
					return userError(err)
				}
				if asJSON {
					return printJSON(map[string]any{"client_id": clientID, "deleted": true})
				}
				fmt.Printf("client %s deleted\n", clientID)
				return nil
			})
		},
	}
	cfg.BindStorage(c.Flags())
	c.Flags().StringVar(&clientID, "client", "", "client id (required)")
	c.Flags().StringVar(&appID, "app", "", "application id (default: the client's)")
	c.Flags().BoolVar(&asJSON, "json", false, `print {"client_id", "deleted": true}`)
	c.MarkFlagRequired("client")
	return c
}
