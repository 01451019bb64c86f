package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"edgebox/image"
	"edgebox/internal/update"
)

// mkimage keys [-out DIR] [-name NAME]: a new signing key pair.
func keys(args []string) error {
	fs := flag.NewFlagSet("keys", flag.ExitOnError)
	out := fs.String("out", "out", "output directory (keys go to DIR/keys unless EDGEBOX_KEYS_DIR is set)")
	name := fs.String("name", "dev", "key file name (NAME.key, NAME.pub)")
	fs.Parse(args)
	dir := image.KeysDir(*out)
	if m, _ := filepath.Glob(filepath.Join(dir, "*.key")); len(m) > 0 && *name == "dev" {
		fmt.Printf("mkimage: signing keys already in %s: %s\n", dir, strings.Join(m, " "))
		return nil
	}
	id, err := update.GenerateKey(dir, *name)
	if err != nil {
		return err
	}
	fmt.Printf("mkimage: new signing key %s: %s/%s.key (private, keep it safe) and %s.pub (built into images)\n", id, dir, *name, *name)
	return nil
}

// mkimage bundle: a signed update bundle from a kernel and an initramfs.
func bundle(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bundle", flag.ExitOnError)
	out := fs.String("out", "out", "directory with vmlinuz, initramfs.cpio.gz and keys/")
	kernel := fs.String("kernel", "", "kernel (default DIR/vmlinuz)")
	initrd := fs.String("initramfs", "", "initramfs (default DIR/initramfs.cpio.gz)")
	version := fs.String("version", "", "firmware version (default: git describe)")
	boards := fs.String("boards", "", "comma-separated boards (default: all)")
	extra := fs.String("cmdline", "", "extra kernel arguments")
	dst := fs.String("o", "", "bundle file (default DIR/edgebox.bundle)")
	fs.Parse(args)
	if *kernel == "" {
		*kernel = filepath.Join(*out, "vmlinuz")
	}
	if *initrd == "" {
		*initrd = filepath.Join(*out, "initramfs.cpio.gz")
	}
	if *dst == "" {
		*dst = filepath.Join(*out, "edgebox.bundle")
	}
	if *version == "" {
		*version = gitVersion()
	}
	k, err := image.SigningKeys(image.KeysDir(*out), os.Stdout)
	if err != nil {
		return err
	}
	o := image.BundleOptions{Work: filepath.Join(*out, "build", "bundle"), Kernel: *kernel, Initramfs: *initrd,
		Version: *version, Extra: *extra, Keys: k, Out: *dst}
	if *boards != "" {
		o.Boards = strings.Split(*boards, ",")
	}
	m, err := image.MakeBundle(ctx, o, os.Stdout)
	if err != nil {
		return err
	}
	fi, _ := os.Stat(*dst)
	fmt.Printf("mkimage: bundle %s for %s: %d chunks, %.1f MiB, %s\n", m.Version, strings.Join(m.Boards, ","), len(m.Chunks), float64(fi.Size())/(1<<20), *dst)
	return nil
}
