// Command mkimage builds the edgebox disk image and boots it under QEMU.
//
//	mkimage build [-out DIR] [-version V]   kernel, initramfs and out/edgebox.img
//	mkimage boot  [-out DIR] [-pin PIN]     boot out/edgebox.img with a simulated modem
//	mkimage ctl   [-out DIR] COMMAND        rehearsal faults in a running boot (ctl.go)
//	mkimage cmdline -slot A IMAGE 'extra args'  change a slot's kernel command line
//	mkimage keys [-out DIR]                 a development update signing key pair
//	mkimage bundle [-out DIR] [flags]       a signed update bundle (bundle.go)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"edgebox/image"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "build":
		err = build(ctx, os.Args[2:])
	case "boot":
		err = boot(ctx, os.Args[2:])
	case "ctl":
		err = ctl(os.Args[2:], os.Stdout)
	case "cmdline":
		err = cmdline(ctx, os.Args[2:])
	case "keys":
		err = keys(os.Args[2:])
	case "bundle":
		err = bundle(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkimage %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mkimage build|boot|ctl|cmdline|keys|bundle [flags]")
	os.Exit(2)
}

func gitVersion() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty", "--tags").Output()
	if err != nil {
		return "dev-" + time.Now().UTC().Format("20060102T150405")
	}
	return strings.TrimSpace(string(out))
}

func build(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	out := fs.String("out", "out", "output directory")
	version := fs.String("version", "", "firmware version (default: git describe)")
	fs.Parse(args)
	if *version == "" {
		*version = gitVersion()
	}
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	_, err = image.Build(ctx, repo, *out, *version, os.Stdout)
	return err
}

func boot(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("boot", flag.ExitOnError)
	out := fs.String("out", "out", "output directory with edgebox.img")
	httpPort := fs.Int("http", 8080, "host port for the web UI (127.0.0.1)")
	httpsPort := fs.Int("https", 8443, "host port for HTTPS (127.0.0.1)")
	profile := fs.String("modem", "huawei-me909s", "modemsim profile for the simulated modem ('' for none)")
	pin := fs.String("pin", "1234", "the simulated SIM's PIN ('' for none)")
	fs.Parse(args)
	return image.Run(ctx, image.RunOptions{
		Dir: *out, HTTPPort: *httpPort, HTTPSPort: *httpsPort, ModemProfile: *profile, ModemPIN: *pin,
	})
}

func cmdline(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cmdline", flag.ExitOnError)
	slot := fs.String("slot", "A", "boot slot")
	fs.Parse(args)
	if fs.NArg() != 2 {
		return fmt.Errorf("usage: mkimage cmdline -slot A IMAGE 'extra kernel args'")
	}
	return image.SetCmdline(ctx, fs.Arg(0), *slot, fs.Arg(1))
}
