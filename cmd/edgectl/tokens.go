package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"edgebox/api/webapi"
)

func init() {
	register("tokens", command{usage: "tokens", help: "list the API tokens (scope, expiry, last use)", run: runTokens})
	register("token-create", command{usage: "token-create [-scope S] [-days N] NAME", help: "make an API token (scope read, operate or admin; shown once)", run: runTokenCreate})
	register("token-revoke", command{usage: "token-revoke ID", help: "revoke an API token at once", run: runTokenRevoke})
	register("password-reset", command{usage: "password-reset", help: "on the box (root): show a code to reset the admin password at https://BOX/reset", run: runPasswordReset})
}

func runTokens(ctx context.Context, g *globals, args []string) error {
	list, err := webClient().Tokens(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(list)
	}
	rows := [][]string{{"ID", "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED"}}
	for _, t := range list {
		last := "never"
		if !t.LastUsed.IsZero() {
			last = t.LastUsed.Local().Format("2006-01-02 15:04")
		}
		exp := t.Expires.Local().Format("2006-01-02")
		if time.Now().After(t.Expires) {
			exp += " (expired)"
		}
		rows = append(rows, []string{t.ID, t.Name, string(t.Scope), t.Created.Local().Format("2006-01-02"), exp, last})
	}
	table(rows)
	return nil
}

func runTokenCreate(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("token-create", flag.ContinueOnError)
	scope := fs.String("scope", "read", "read, operate or admin")
	days := fs.Int("days", 90, "days until the token expires (1..366)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: edgectl token-create [-scope read|operate|admin] [-days N] NAME")
	}
	res, err := webClient().CreateToken(ctx, webapi.TokenRequest{Name: fs.Arg(0), Scope: webapi.Scope(*scope), ExpiresDays: *days})
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(res)
	}
	fmt.Printf("%s\n(id %s, scope %s, expires %s; shown once: store it now)\n", res.Token, res.ID, res.Scope, res.Expires.Local().Format("2006-01-02"))
	return nil
}

func runTokenRevoke(ctx context.Context, g *globals, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: edgectl token-revoke ID  (edgectl tokens lists the ids)")
	}
	if err := webClient().RevokeToken(ctx, args[0]); err != nil {
		return err
	}
	if !g.JSON {
		fmt.Printf("token %s revoked\n", args[0])
	}
	return nil
}

// runPasswordReset works only on the box: web answers the code to root
// on its unix socket (presence at the box), never over the network.
func runPasswordReset(ctx context.Context, g *globals, args []string) error {
	if g.URL != "" {
		return errors.New("a password reset needs someone at the box: run it there (serial console), or use the reset page and read the code on the console")
	}
	var ans webapi.ResetCodeAnswer
	if err := webClient().Post(ctx, "/api/v1/password/reset-code", nil, &ans); err != nil {
		return err
	}
	if g.JSON {
		return printJSON(ans)
	}
	if ans.Code == "" {
		return errors.New("web did not give the code: run this as root on the box")
	}
	fmt.Printf("reset code %s, valid until %s\nopen https://BOX/reset on the LAN, type the code and a new password (all API tokens end)\n", ans.Code, ans.Expires.Local().Format("15:04"))
	return nil
}
