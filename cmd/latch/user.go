package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/latch-auth/latch/internal/config"
	"github.com/latch-auth/latch/internal/node"
	"github.com/latch-auth/latch/internal/store"
	"github.com/latch-auth/latch/internal/user"
)

// userCmd is `latch user create|get|delete`: the users API for operators, against the same data
// directory or database while a server runs. Users print as JSON in Mosaic's ApiUser shape.
func userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var cfg config.Config
	var email, phone, username, id string
	withUsers := func(fn func(ctx context.Context, users *user.Service) error) error {
		return withNode(&cfg, func(ctx context.Context, n *node.Node) error { return userError(fn(ctx, n.Users)) })
	}
	// withFound runs fn on the user named by exactly one of --id, --email, --phone, --username.
	withFound := func(fn func(ctx context.Context, users *user.Service, u store.User) error) error {
		var typ, v string
		n := 0
		for _, f := range []struct{ typ, v string }{{user.IDUserID, id}, {user.IDEmail, email}, {user.IDPhone, phone}, {user.IDUsername, username}} {
			if f.v != "" {
				typ, v, n = f.typ, f.v, n+1
			}
		}
		if n != 1 {
			return errors.New("give exactly one of --id, --email, --phone, --username")
		}
		return withUsers(func(ctx context.Context, users *user.Service) error {
			u, err := users.Find(ctx, typ, v)
			if err != nil {
				return err
			}
			return fn(ctx, users, u)
		})
	}

	create := &cobra.Command{
		Use:   "create",
		Short: "Create a user (an email or a phone number is required)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := user.Input{}
			for _, f := range []struct {
				dst **string
				v   string
			}{{&in.Email, email}, {&in.PhoneNumber, phone}, {&in.Username, username}} {
				if f.v != "" {
					v := f.v
					*f.dst = &v
				}
			}
			return withUsers(func(ctx context.Context, users *user.Service) error {
				u, err := users.Create(ctx, in)
				if err != nil {
					return err
				}
				return printJSON(user.API(u, ""))
			})
		},
	}
	get := &cobra.Command{
		Use:   "get",
		Short: "Print a user found by --id, --email, --phone or --username",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withFound(func(_ context.Context, _ *user.Service, u store.User) error { return printJSON(user.API(u, "")) })
		},
	}
	del := &cobra.Command{
		Use:   "delete",
		Short: "Delete a user found by --id, --email, --phone or --username, with their sessions, codes and TOTPs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withFound(func(ctx context.Context, users *user.Service, u store.User) error {
				if err := users.Delete(ctx, u.ID); err != nil {
					return err
				}
				return printJSON(map[string]string{"deleted": u.ID})
			})
		},
	}
	for _, c := range []*cobra.Command{create, get, del} {
		cfg.BindStorage(c.Flags())
		c.Flags().StringVar(&email, "email", "", "email address")
		c.Flags().StringVar(&phone, "phone", "", "phone number in E.164 (+15551234567)")
		c.Flags().StringVar(&username, "username", "", "username")
		if c != create {
			c.Flags().StringVar(&id, "id", "", "user id")
		}
		cmd.AddCommand(c)
	}
	return cmd
}
