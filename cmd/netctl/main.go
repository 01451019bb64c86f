// Command netctl is the box's network service: LAN, wired WAN and modem
// uplinks with failover, DHCP, DNS and the firewall. See package netctl.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/internal/localapi"
	"edgebox/internal/paths"
	"edgebox/netctl"
	"edgebox/netctl/openvpn"
)

type roleFlags map[string]string

func (r roleFlags) String() string { return fmt.Sprint(map[string]string(r)) }
func (r roleFlags) Set(v string) error {
	role, name, ok := strings.Cut(v, "=")
	if !ok || role == "" || name == "" {
		return fmt.Errorf("want ROLE=IFACE, got %q", v)
	}
	r[role] = name
	return nil
}

func main() {
	roles := roleFlags{}
	cfgPath := flag.String("config", paths.ConfigFile(), "config file")
	socket := flag.String("socket", paths.Socket(netctl.SocketName), "API socket")
	resolv := flag.String("resolv-conf", "/etc/resolv.conf", "resolv.conf to write")
	sysRoot := flag.String("sys", "/sys", "sysfs root for board detection")
	noFW := flag.Bool("no-firewall", false, "filter nothing: replace init's boot firewall with NAT only (debugging, never in the field)")
	smsDir := flag.String("sms-dir", filepath.Join(paths.DataDir(), "sms"), "where received SMS are stored")
	modemState := flag.String("modem-state-dir", filepath.Join(paths.DataDir(), "modem"), "modem state (rejected-PIN record), created 0700")
	debug := flag.Bool("debug", false, "debug logging")
	noVPN := flag.Bool("no-vpn", false, "do not run the OpenVPN manager")
	flag.Var(roles, "iface", "ROLE=IFACE, overrides the board profile (repeatable)")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cmdline, _ := os.ReadFile("/proc/cmdline")
	board, _, why := boards.Detect(boards.ReadDMI(*sysRoot), boards.CmdlineValue(string(cmdline), "edgebox.board"))
	all := board.Interfaces(*sysRoot)
	for k, v := range roles {
		all[k] = v
	}
	log.Info("board", "name", board.Name, "why", why, "roles", all)

	// The modem sits in the board's first slot with a reset line (mpcie2 on
	// apu2..apu6); which slot holds it is not detectable from USB alone.
	var slotReset func() error
	for _, s := range board.ModemSlots {
		if slotReset = board.SlotReset(s.Name); slotReset != nil {
			break
		}
	}
	svc, err := netctl.New(netctl.Options{ConfigPath: *cfgPath, ResolvConf: *resolv, Roles: all, NoFirewall: *noFW,
		SMSDir: *smsDir, ModemStateDir: *modemState, SlotReset: slotReset, ModemSlots: board.ModemSlots, Log: log})
	if err != nil {
		log.Error("netctl cannot start", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	// The OpenVPN tunnel follows the active uplink; its API lives under
	// /v1/vpn/ on netctl's socket.
	var vpn *openvpn.Manager
	if !*noVPN {
		c, err := config.Load(*cfgPath)
		if err != nil {
			log.Error("netctl cannot start", "err", err)
			os.Exit(1)
		}
		vpn, err = openvpn.New(openvpn.Options{Interface: c.VPN.Interface, Logger: log.With("part", "vpn")})
		if err != nil {
			log.Error("vpn manager", "err", err)
			os.Exit(1)
		}
		vpn.SetEnabled(c.VPN.Enabled)
		vpn.Routes(svc.Mux)
		svc.OnUplinkChange = append(svc.OnUplinkChange, func(ch netctl.UplinkChange) { vpn.SetUplink(ch.Name != "", ch.Name) })
		go func() {
			if err := vpn.Run(ctx); err != nil {
				log.Error("vpn manager stopped", "err", err)
			}
		}()
	}

	l, err := localapi.ListenPath(*socket)
	if err != nil {
		log.Error("netctl cannot start", "err", err)
		os.Exit(1)
	}
	go func() {
		if err := localapi.Serve(ctx, l, svc.Mux); err != nil {
			log.Error("api", "err", err)
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			// A rejected config is logged and the running one kept.
			if svc.Reload() == nil && vpn != nil {
				if c, err := config.Load(*cfgPath); err == nil {
					vpn.SetEnabled(c.VPN.Enabled)
				}
			}
		}
	}()
	if err := svc.Run(ctx); err != nil {
		log.Error("netctl", "err", err)
		os.Exit(1)
	}
	log.Info("netctl stopped")
}
