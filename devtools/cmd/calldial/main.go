// Command calldial is a load generator for the gateway: it obtains call
// tokens from the portal API and places WebRTC calls through the box
// toward a SIP UAS that echoes RTP, then reports setup latency, media
// quality and the gateway's CPU and memory. "calldial bench" runs the
// fixed benchmark matrix on loopback (make bench). The work is done by
// packages calldial and bench.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"edgebox/devtools/bench"
	"edgebox/devtools/calldial"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// $CALLDIAL_CPUPROFILE: calldial's own CPU profile, to see what the
	// load generator spends per packet
	if path := os.Getenv("CALLDIAL_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() {
				pprof.StopCPUProfile()
				f.Close()
			}()
		}
	}
	var err error
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		err = bench.Main(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = dial(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "calldial:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func dial(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("calldial", flag.ContinueOnError)
	var o calldial.Options
	fs.StringVar(&o.Portal, "portal", "", "portal API base URL of the gateway (http://127.0.0.1:8443)")
	fs.StringVar(&o.APIKey, "api-key", os.Getenv("CALLDIAL_API_KEY"), "portal API key (or $CALLDIAL_API_KEY)")
	fs.StringVar(&o.From, "from", "sip:calldial@example.com", "caller identity in the token requests")
	fs.StringVar(&o.Destination, "to", "sip:agent@127.0.0.1", "destination in the token requests")
	fs.Float64Var(&o.Rate, "rate", 10, "new calls per second")
	fs.IntVar(&o.Concurrency, "concurrency", 10, "calls in progress at most")
	fs.IntVar(&o.Total, "total", 10, "calls to place")
	fs.DurationVar(&o.Hold, "hold", 10*time.Second, "how long each answered call stays up")
	fs.DurationVar(&o.SetupTimeout, "setup-timeout", 15*time.Second, "token to answer, at most")
	fs.StringVar(&o.Codec, "codec", "pcmu", "pcmu, pcma or opus")
	fs.IntVar(&o.GatewayPID, "gateway-pid", 0, "gateway process to measure through /proc (0: none)")
	fs.IntVar(&o.UASPID, "uas-pid", 0, "SIP UAS process to measure through /proc (0: none)")
	fs.BoolVar(&o.Lean, "lean", true, "place calls without a PeerConnection each (one check, pion/dtls and an SRTP session per call); -lean=false uses pion's PeerConnection")
	local := fs.Bool("local", false, "start SIPp (rtp_echo) and the gateway (built from cmd/gateway) on loopback and call through them")
	logs := fs.String("logs", "", "with -local: keep the gateway's and SIPp's config and logs in this directory")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("q", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*quiet {
		o.Progress = os.Stderr
	}
	if *local {
		dir, done, err := bench.WorkDir(*logs)
		if err != nil {
			return err
		}
		defer done()
		bin, err := bench.BuildGateway(dir)
		if err != nil {
			return err
		}
		rig, err := bench.StartRig(bin, dir, o.Concurrency)
		if err != nil {
			return err
		}
		defer rig.Close()
		o.Portal, o.APIKey = rig.Gateway.Portal, bench.APIKey
		o.GatewayPID, o.UASPID = rig.Gateway.PID(), rig.UAS.PID()
		o.WatchUDP = rig.WatchUDP()
	}
	rep, err := calldial.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.Print(os.Stdout)
	return nil
}
