package netctl

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgebox/api/netapi"
	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/internal/paths"
	"edgebox/internal/service"
	"edgebox/netctl/openvpn"
)

// ServiceSpec is netctl as a box service (cmd/netctl): the board's NIC
// roles and modem slot, the OpenVPN tunnel on the same socket, the clock
// kept on system.ntp, and the network, vpn and NTP settings applied again
// on every reload.
func ServiceSpec() service.Spec {
	var f serviceFlags
	f.roles = roleFlags{}
	return service.Spec{
		Name: netapi.SocketName,
		// The link goes down and the radio off; init's StopTimeout is 10 s.
		StopTime: 10 * time.Second,
		// A config that does not load (both it and its previous version
		// damaged, or one breaking a rule this firmware added) must not
		// leave the LAN without its address: nobody could reach the box
		// to repair it. The defaults give the LAN 192.168.1.1 and a safe
		// firewall; the refusal shows on /healthz and in the log.
		StartWithDefaults: true,
		Flags:             f.declare,
		Start: func(ctx context.Context, env service.Env, cfg *config.Config) (service.Service, error) {
			return start(env, cfg, f)
		},
	}
}

type serviceFlags struct {
	roles      roleFlags
	resolv     string
	sysRoot    string
	noFW       bool
	smsDir     string
	modemState string
	noVPN      bool
}

func (f *serviceFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&f.resolv, "resolv-conf", "/etc/resolv.conf", "resolv.conf to write")
	fs.StringVar(&f.sysRoot, "sys", "/sys", "sysfs root for board detection")
	fs.BoolVar(&f.noFW, "no-firewall", false, "filter nothing: replace init's boot firewall with NAT only (debugging, never in the field)")
	fs.StringVar(&f.smsDir, "sms-dir", filepath.Join(paths.DataDir(), "sms"), "where received SMS are stored")
	fs.StringVar(&f.modemState, "modem-state-dir", filepath.Join(paths.DataDir(), "modem"), "modem state (rejected-PIN record), created 0700")
	fs.BoolVar(&f.noVPN, "no-vpn", false, "do not run the OpenVPN manager")
	fs.Var(f.roles, "iface", "ROLE=IFACE, overrides the board profile (repeatable)")
}

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

// start builds netctl for the board it runs on and, unless -no-vpn, the
// OpenVPN manager it supervises.
func start(env service.Env, cfg *config.Config, f serviceFlags) (service.Service, error) {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	board, _, why := boards.Detect(boards.ReadDMI(f.sysRoot), boards.CmdlineValue(string(cmdline), "edgebox.board"))
	all := board.Interfaces(f.sysRoot)
	for k, v := range f.roles {
		all[k] = v
	}
	env.Log.Info("board", "name", board.Name, "why", why, "roles", all)

	// The modem's recovery pulses the reset line of the slot it is in
	// (slot.go: network.modem.slot, else the slots' USB map).
	gpio := boards.CharDev{Dir: "/dev"}
	svc, err := New(Options{ConfigPath: env.ConfigPath, Config: cfg, ResolvConf: f.resolv, Roles: all, NoFirewall: f.noFW,
		FindRole: func(role string) string { return board.Interfaces(f.sysRoot)[role] },
		SMSDir:   f.smsDir, ModemStateDir: f.modemState, Log: env.Log, ModemSlots: board.ModemSlots,
		SlotReset: func(slot string) func() error { return board.SlotReset(gpio, slot) }})
	if err != nil {
		return nil, err
	}
	n := &netService{svc: svc, time: newTimeSync(cfg.System.NTP, env.Log)}
	svc.OnUplinkChange = append(svc.OnUplinkChange, func(c UplinkChange) { n.time.UplinkMoved(c.NTP) })
	svc.Mux.HandleFunc("GET /v1/time", n.time.handleStatus)
	if !f.noVPN {
		if n.vpn, err = WireOpenVPN(svc, cfg.VPN, openvpn.Options{}); err != nil {
			return nil, fmt.Errorf("vpn manager: %w", err)
		}
	}
	return n, nil
}

// netService is netctl and its tunnel as the skeleton runs them.
type netService struct {
	svc  *Service
	vpn  *openvpn.Manager // nil with -no-vpn
	time *timeSync        // system.ntp (timesync.go)
}

func (n *netService) Handler() http.Handler { return n.svc.Mux }

// Run runs the tunnel beside the network; both stop with ctx, and the
// tunnel also when the network part ends by itself.
func (n *netService) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	vpnDone := make(chan struct{})
	if n.vpn == nil {
		close(vpnDone)
	} else {
		go func() {
			defer close(vpnDone)
			if err := n.vpn.Run(ctx); err != nil {
				n.svc.log.Error("vpn manager stopped", "err", err)
			}
		}()
	}
	go n.time.Run(ctx)
	err := n.svc.Run(ctx)
	cancel()
	<-vpnDone
	return err
}

// Apply is a reload: the network section, and vpn.enabled for the tunnel.
func (n *netService) Apply(cfg *config.Config) error {
	n.svc.Apply(cfg.Network)
	n.time.SetServers(cfg.System.NTP)
	if n.vpn != nil {
		n.vpn.SetEnabled(cfg.VPN.Enabled)
	}
	return nil
}
