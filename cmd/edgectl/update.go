package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/update"
)

func init() {
	register("update", command{usage: "update [-reboot] [-allow-downgrade] [-sha256 SUM] FILE", help: "install an update bundle into the other boot slot (trial boot, automatic rollback)", run: runUpdate})
	register("update-status", command{usage: "update-status", help: "show the boot slot, whether it is confirmed, and the update history", run: runUpdateStatus})
	register("factory-reset", command{usage: "factory-reset -confirm 'erase all settings'", help: "erase every setting and secret (the firmware stays) and reboot", run: runFactoryReset})
}

func runUpdate(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	reboot := fs.Bool("reboot", false, "reboot into the new firmware when it is installed")
	sum := fs.String("sha256", "", "SHA-256 the bundle file must have")
	downgrade := fs.Bool("allow-downgrade", false, "install even if the bundle is older than the running firmware (admin only; logged)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: edgectl update [-reboot] [-allow-downgrade] [-sha256 SUM] FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	last := time.Time{}
	progress := func(p update.Progress) {
		if g.JSON {
			printJSON(p)
			return
		}
		if p.Phase != update.PhaseWriting && p.Phase != update.PhaseReadBack || time.Since(last) > 2*time.Second || p.Done == p.Total {
			last = time.Now()
			if p.Total > 0 {
				fmt.Printf("%-10s %5.1f%%  %s\n", p.Phase, 100*float64(p.Done)/float64(p.Total), p.Message)
			} else {
				fmt.Printf("%-10s %s\n", p.Phase, p.Message)
			}
		}
	}
	var res *update.Result
	opts := update.InstallOptions{Reboot: *reboot, AllowDowngrade: *downgrade}
	if g.URL != "" {
		// Over the VPN: through the web service's firmware upload (the
		// forwarder maps the "web" socket to the web API).
		res, err = update.InstallVia(ctx, localapi.NewClient("web"), opts.Path("/api/v1/firmware"), f, fi.Size(), *sum, progress)
	} else {
		res, err = update.NewClient().Install(ctx, f, fi.Size(), *sum, opts, progress)
	}
	if err != nil {
		return err
	}
	if !g.JSON {
		fmt.Println(res.Message)
		if *reboot {
			fmt.Println("rebooting into the trial now")
		} else {
			fmt.Println("reboot (edgectl reboot) to try it")
		}
	}
	return nil
}

func runUpdateStatus(ctx context.Context, g *globals, args []string) error {
	st, err := update.NewClient().Status(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(st)
	}
	state := "confirmed"
	if st.Boot.OnTrial {
		state = "ON TRIAL (falls back to slot " + st.Boot.Active + " unless healthy)"
	}
	rows := [][]string{{"slot", st.Boot.Slot}, {"version", st.Version}, {"state", state}}
	if st.Health != nil {
		rows = append(rows, []string{"health check", st.Health.State + " " + st.Health.Reason})
	}
	if st.Boot.RolledBack != nil {
		rows = append(rows, []string{"rolled back", st.Boot.RolledBack.Reason})
	}
	if st.Boot.Armed != nil {
		rows = append(rows, []string{"armed", fmt.Sprintf("slot %s version %s tries on the next boot", st.Boot.Armed.Slot, st.Boot.Armed.Version)})
	}
	if st.Install != nil {
		rows = append(rows, []string{"last install", st.Install.Phase + " " + st.Install.Message + st.Install.Error})
	}
	table(rows)
	if len(st.History) > 0 {
		fmt.Println()
		h := [][]string{{"TIME", "EVENT", "SLOT", "VERSION", "REASON"}}
		for _, e := range st.History {
			h = append(h, []string{e.Time.Local().Format(time.DateTime), e.Kind, e.Slot, e.Version, e.Reason})
		}
		table(h)
	}
	return nil
}

func runFactoryReset(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("factory-reset", flag.ContinueOnError)
	confirm := fs.String("confirm", "", "must be '"+update.FactoryResetPhrase+"'")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !resetConfirmed(*confirm) {
		return fmt.Errorf("this erases every setting and secret on the box; to do it, run: edgectl factory-reset -confirm '%s'", update.FactoryResetPhrase)
	}
	if err := update.NewClient().FactoryReset(ctx, update.FactoryResetPhrase); err != nil {
		return err
	}
	fmt.Println("settings erased; the box reboots with its factory settings")
	return nil
}

// resetConfirmed says whether typed is the factory-reset phrase: spaces
// around it and case do not matter ("Erase all settings " is meant), any
// other word does.
func resetConfirmed(typed string) bool {
	return strings.EqualFold(strings.TrimSpace(typed), update.FactoryResetPhrase)
}
