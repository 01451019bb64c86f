package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgebox/boards"
)

// Result is what a build produced.
type Result struct {
	Kernel, Initramfs, Disk string
	Bundle                  string // signed update bundle (docs/updates.md)
	Version                 string
	Modules                 int
}

// bootResolvConf is /etc/resolv.conf until netctl writes the active
// uplink's DNS servers: none.
const bootResolvConf = "# no DNS server until an uplink is up: netctl writes this file\n"

// Build makes out/vmlinuz, out/initramfs.cpio.gz and out/edgebox.img from
// the module at repo. The cache under out/cache keeps the kernel download.
func Build(ctx context.Context, repo, out, version string, log io.Writer) (*Result, error) {
	start := time.Now()
	out, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	work := filepath.Join(out, "build")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	k, err := FetchKernel(ctx, filepath.Join(out, "cache"), log)
	if err != nil {
		return nil, fmt.Errorf("kernel: %w", err)
	}
	overlay := filepath.Join(work, "overlay")
	os.RemoveAll(overlay)
	n, err := StageModules(k, boards.AllModules(), filepath.Join(overlay, "lib/modules", k.Version), log)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(overlay, "etc/edgebox"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(overlay, "etc/edgebox/version"), []byte(version+"\n"), 0o644); err != nil {
		return nil, err
	}
	// The build time lets a freshly written box refuse older bundles
	// (internal/update's downgrade check); bundles are made after it.
	built := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	if err := os.WriteFile(filepath.Join(overlay, "etc/edgebox/built"), []byte(built+"\n"), 0o644); err != nil {
		return nil, err
	}
	// u-root's base archive has "nameserver 8.8.8.8": until netctl wrote
	// the uplink's servers, the box's first lookups (NTP, syslog, the
	// PBX) went to a public resolver nobody configured. The overlay's
	// file wins over the base archive's; with no nameserver line the
	// resolvers ask 127.0.0.1, where nothing answers.
	if err := os.WriteFile(filepath.Join(overlay, "etc/resolv.conf"), []byte(bootResolvConf), 0o644); err != nil {
		return nil, err
	}
	keys, err := SigningKeys(KeysDir(out), log)
	if err != nil {
		return nil, err
	}
	if _, err := stageTrustedKeys(KeysDir(out), overlay); err != nil {
		return nil, err
	}
	res := &Result{Kernel: filepath.Join(out, "vmlinuz"), Initramfs: filepath.Join(out, "initramfs.cpio.gz"),
		Disk: filepath.Join(out, "edgebox.img"), Bundle: filepath.Join(out, "edgebox.bundle"), Version: version, Modules: n}
	if err := copyFile(k.Vmlinuz(), res.Kernel, 0o644); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "mkimage: building initramfs (u-root mkuimage, bb mode)\n")
	if err := BuildInitramfs(ctx, repo, work, overlay, res.Initramfs, log); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	if err := MakeDisk(ctx, work, res.Kernel, res.Initramfs, res.Disk, log); err != nil {
		return nil, fmt.Errorf("disk image: %w", err)
	}
	if _, err := MakeBundle(ctx, BundleOptions{Work: filepath.Join(work, "bundle"), Kernel: res.Kernel, Initramfs: res.Initramfs,
		Version: version, Keys: keys, Out: res.Bundle}, log); err != nil {
		return nil, fmt.Errorf("update bundle: %w", err)
	}
	fmt.Fprintf(log, "mkimage: edgebox %s for boards %s (kernel %s, %d modules) in %s\n",
		version, strings.Join(boardNames(), " "), k.Version, n, time.Since(start).Round(time.Second))
	for _, f := range []struct{ what, path string }{{"kernel", res.Kernel}, {"initramfs", res.Initramfs}, {"disk image", res.Disk}, {"bundle", res.Bundle}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "mkimage:   %-10s %7.1f MiB  %s\n", f.what, float64(fi.Size())/(1<<20), f.path)
	}
	return res, nil
}

// KeysDir holds the update signing keys: EDGEBOX_KEYS_DIR, else out/keys
// (development keys, made by `make keys` or the first build).
func KeysDir(out string) string {
	if d := os.Getenv("EDGEBOX_KEYS_DIR"); d != "" {
		return d
	}
	return filepath.Join(out, "keys")
}

func boardNames() []string {
	var names []string
	for _, n := range []string{"apu1", "apu2", "apu3", "apu4", "apu6", "qemu"} {
		if _, ok := boards.Profiles[n]; ok {
			names = append(names, n)
		}
	}
	return names
}
