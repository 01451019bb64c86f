package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"edgebox/api/netapi"
)

func init() {
	register("net", command{usage: "net", help: "uplinks, LAN ports and firewall", run: runNet})
	register("uplinks", command{usage: "uplinks", help: "uplinks: state, address, gateway, DNS, lease, bytes", run: runUplinks})
	register("sms", command{usage: "sms [list | send NUMBER TEXT... | delete ID]", help: "text messages of the modem", run: runSMS})
}

func netClient() netapi.Client { return netapi.NewClient() }

func runNet(ctx context.Context, g *globals, args []string) error {
	st, err := netClient().Status(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(st)
	}
	active := st.Active
	if active == "" {
		active = "none (offline)"
	}
	fmt.Printf("active uplink: %s   (default-route switches: %d)\n\n", active, st.Switches)
	printUplinks(st.Uplinks)
	fmt.Println()
	rows := [][]string{{"LAN", "IFACE", "ADDRESS", "CARRIER", "ERROR"}}
	for _, l := range st.LAN {
		rows = append(rows, []string{l.Role, dash(l.Interface), dash(l.Address), yesNo(l.Carrier), l.Error})
	}
	table(rows)
	fw := st.Firewall
	fmt.Printf("\nfirewall: applied=%s router=%s uplinks=%s lan=%s", yesNo(fw.Applied), yesNo(fw.Router),
		strings.Join(fw.Uplinks, ","), strings.Join(fw.LAN, ","))
	if fw.Error != "" {
		fmt.Printf(" error: %s", fw.Error)
	}
	fmt.Println()
	return nil
}

func runUplinks(ctx context.Context, g *globals, args []string) error {
	ups, err := netClient().Uplinks(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(ups)
	}
	printUplinks(ups)
	return nil
}

func printUplinks(ups []netapi.UplinkStatus) {
	rows := [][]string{{"UPLINK", "IFACE", "STATE", "ACTIVE", "ADDRESS", "GATEWAY", "DNS", "LEASE", "RX", "TX"}}
	for _, u := range ups {
		lease := "-"
		if d := u.DHCP; d != nil {
			lease = d.State
			if !d.ExpiresAt.IsZero() {
				lease += fmt.Sprintf(" (renew %s, expires %s)", until(d.RenewAt), until(d.ExpiresAt))
			}
		}
		active := ""
		if u.Active {
			active = "*"
		}
		rows = append(rows, []string{u.Name, dash(u.Interface), u.State, active, dash(u.Address), dash(u.Gateway),
			dash(strings.Join(u.DNS, ",")), lease, bytesStr(u.RxBytes), bytesStr(u.TxBytes)})
	}
	table(rows)
	for _, u := range ups {
		if u.Health.LastError != "" && !u.Health.Healthy {
			fmt.Printf("%s: %s\n", u.Name, u.Health.LastError)
		}
		if u.LastError != "" {
			fmt.Printf("%s: %s\n", u.Name, u.LastError)
		}
	}
}

func runSMS(ctx context.Context, g *globals, args []string) error {
	c := netClient()
	sub := "list"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "list":
		msgs, err := c.ListSMS(ctx)
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(msgs)
		}
		rows := [][]string{{"ID", "TIME", "FROM/TO", "TEXT"}}
		for _, m := range msgs {
			peer := m.From
			if m.Outgoing {
				peer = "-> " + m.To
			}
			rows = append(rows, []string{m.ID, m.Time.Local().Format(time.DateTime), peer, strings.ReplaceAll(m.Text, "\n", " ")})
		}
		table(rows)
		return nil
	case "send":
		if len(args) < 2 {
			return errors.New("usage: edgectl sms send NUMBER TEXT (the rest of the line)")
		}
		m, err := c.SendSMS(ctx, args[0], strings.Join(args[1:], " "))
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(m)
		}
		fmt.Printf("sent to %s (%d part(s)), id %s\n", args[0], m.Parts, m.ID)
		return nil
	case "delete", "rm":
		if len(args) != 1 {
			return errors.New("usage: edgectl sms delete ID")
		}
		return c.DeleteSMS(ctx, args[0])
	}
	return fmt.Errorf("unknown sms command %q (list, send, delete)", sub)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func until(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Until(t).Round(time.Second)
	if d < 0 {
		return "passed"
	}
	return "in " + d.String()
}

func bytesStr(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fk", float64(n)/(1<<10))
	}
	return fmt.Sprint(n)
}
