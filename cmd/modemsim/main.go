// Command modemsim is a simulated 3G/LTE modem for tests and `make run`:
// it speaks AT on a pty (--pty, prints the path) or on a unix socket that
// QEMU's -chardev socket connects to (--listen PATH). See modem/modemsim.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"edgebox/modem/modemsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "modemsim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flag := flag.NewFlagSet("modemsim", flag.ContinueOnError)
	profile := flag.String("profile", "huawei-mu609", "modem profile: "+strings.Join(modemsim.Profiles(), ", "))
	usePTY := flag.Bool("pty", false, "serve on a new pty and print its path")
	ptys := flag.Int("ptys", 1, "with --pty: ttys of the one modem, each path on its own line (2: AT port, then a PPP data port)")
	listen := flag.String("listen", "", "serve on this unix socket (each connection is an AT session)")
	control := flag.String("control", "", "control socket (line commands, see 'help')")
	netdev := flag.String("netdev", "", "interface whose link follows the data connection")
	netnsName := flag.String("netns", "", "network namespace of --netdev")
	pin := flag.String("pin", "", "SIM PIN (enables the PIN check)")
	number := flag.String("number", "", "the SIM's own number, as AT+CNUM answers it (default: none stored, as on most SIMs)")
	urcEvery := flag.Duration("urc-every", 0, "send the vendor's periodic signal URC at this interval (0: never)")
	ppp := flag.Bool("ppp", false, "PPP profiles (sierra-mc8775, generic): after ATD*99 CONNECT run the carrier's pppd on the AT byte stream")
	pppPeer := flag.String("ppp-peer", "", "peer command instead of the default pppd (words split on blanks; implies --ppp)")
	pppNetns := flag.String("ppp-netns", "", "run the PPP peer with ip netns exec NS (the carrier's ppp interface lives there)")
	pppLocal := flag.String("ppp-local", "10.66.0.1", "carrier side address of the PPP link")
	pppRemote := flag.String("ppp-remote", "10.66.0.2", "address handed to the box over PPP")
	pppDNS := flag.String("ppp-dns", "10.66.0.53", "DNS servers handed to the box over PPP (comma separated)")
	bootCFUN := flag.Int("cfun", -1, "+CFUN state at power-on (default: the profile's; Ericsson 4, others 1)")
	acceptAPN := flag.String("accept-apn", "", "the only APN the network takes (others are refused with cause 27)")
	apnLogin := flag.String("apn-login", "", "user:password the network requires for the APN (others are refused with cause 29)")
	bootFirst := flag.Bool("boot-urc-first", false, "send the power-on boot URCs (*EMRDY: 1, RDY...) just before the answer to the first command")
	answerDelay := flag.Duration("answer-delay", 0, "time the modem takes to answer each command")
	audio := flag.String("audio", "", "PCM voice port on this unix socket (8 kHz s16le mono, 20 ms frames while a call is up)")
	verbose := flag.Bool("v", false, "log debug")
	if err := flag.Parse(args); err != nil {
		return err
	}
	if !*usePTY && *listen == "" {
		return fmt.Errorf("give --pty or --listen PATH")
	}
	if *ptys < 1 || *ptys > 8 {
		return fmt.Errorf("--ptys %d: give 1 to 8", *ptys)
	}
	lvl := slog.LevelInfo
	if *verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	cfg := modemsim.Config{Profile: *profile, PIN: *pin, Number: *number, PeriodicURC: *urcEvery, Logger: log}
	cfg.BootURCOnFirstCommand, cfg.AnswerDelay, cfg.AcceptAPN = *bootFirst, *answerDelay, *acceptAPN
	cfg.APNLogin = *apnLogin
	if *bootCFUN >= 0 {
		cfg.BootCFUN = bootCFUN
	}
	if *ppp || *pppPeer != "" {
		cfg.PPPPeer = PPPPeerArgv(*pppPeer, *pppNetns, *pppLocal, *pppRemote, *pppDNS)
	}
	if *netdev != "" {
		carrier, closeFn, err := modemsim.NetdevCarrier(*netdev, *netnsName)
		if err != nil {
			return err
		}
		defer closeFn()
		if err := carrier(false); err != nil {
			return fmt.Errorf("netdev %s down: %w", *netdev, err)
		}
		cfg.Carrier = carrier
	}
	sim, err := modemsim.New(cfg)
	if err != nil {
		return err
	}
	defer sim.Close()
	errc := make(chan error, 4)
	if *control != "" {
		os.Remove(*control)
		ln, err := net.Listen("unix", *control)
		if err != nil {
			return err
		}
		defer os.Remove(*control)
		go func() { errc <- sim.ServeControl(ctx, ln) }()
	}
	if *audio != "" {
		os.Remove(*audio)
		ln, err := net.Listen("unix", *audio)
		if err != nil {
			return err
		}
		defer os.Remove(*audio)
		go func() { errc <- sim.ServeAudio(ctx, ln) }()
	}
	if *usePTY {
		// Several ptys share the modem's state like the ttys of one USB
		// modem: a data call on one leaves the others in command mode.
		for i := 0; i < *ptys; i++ {
			path, wait, err := sim.ServePTY(ctx)
			if err != nil {
				return err
			}
			defer wait()
			fmt.Fprintln(stdout, path)
		}
	}
	if *listen != "" {
		os.Remove(*listen)
		ln, err := net.Listen("unix", *listen)
		if err != nil {
			return err
		}
		defer os.Remove(*listen)
		go func() { errc <- sim.ServeListener(ctx, ln) }()
		fmt.Fprintln(stdout, *listen)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
}

// PPPPeerArgv is the carrier side of a PPP call: Debian's pppd on
// stdin/stdout (notty), handing out remote and the DNS servers, detecting
// a dead box with LCP echoes; in netns when given.
func PPPPeerArgv(peer, netns, local, remote, dns string) []string {
	var argv []string
	if netns != "" {
		argv = append(argv, "ip", "netns", "exec", netns)
	}
	if peer != "" {
		return append(argv, strings.Fields(peer)...)
	}
	argv = append(argv, "/usr/sbin/pppd", "notty", "nodetach", "noauth", "local", "nocrtscts", "passive",
		local+":"+remote, "nodefaultroute", "novj", "nobsdcomp", "nodeflate", "noccp",
		"lcp-echo-interval", "5", "lcp-echo-failure", "3")
	for _, d := range strings.Split(dns, ",") {
		if d = strings.TrimSpace(d); d != "" {
			argv = append(argv, "ms-dns", d)
		}
	}
	return argv
}
