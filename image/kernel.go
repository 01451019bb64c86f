// Package image builds the edgebox firmware: the initramfs (u-root's
// mkuimage in busybox mode, plus openvpn, e2fsprogs and the boards' kernel
// modules), Debian's kernel, and a disk image with an MBR, boot slots A and
// B and the perm partition, made without loop devices or mounts. It also
// boots that image under QEMU for `make run` and the tests.
package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Kernel is Debian's kernel, extracted (not installed) into the build cache.
type Kernel struct {
	Version string // 6.1.0-56-amd64
	Root    string // where the .deb was extracted
}

// Vmlinuz is the kernel image file.
func (k Kernel) Vmlinuz() string { return filepath.Join(k.Root, "boot", "vmlinuz-"+k.Version) }

// ModulesDir is lib/modules/VERSION inside the extracted package.
func (k Kernel) ModulesDir() string { return filepath.Join(k.Root, "lib/modules", k.Version) }

// run runs a build tool, folding its output into the error.
func run(ctx context.Context, log io.Writer, dir string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// FetchKernel downloads the package linux-image-amd64 points at into
// cache, extracts it and runs depmod on it. Work already done is reused.
func FetchKernel(ctx context.Context, cache string, log io.Writer) (Kernel, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Kernel{}, err
	}
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		return Kernel{}, fmt.Errorf("apt-cache depends linux-image-amd64: %w (run apt-get update)", err)
	}
	var pkg string
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Depends: linux-image-"); ok && strings.HasSuffix(v, "-amd64") {
			pkg = "linux-image-" + v
			break
		}
	}
	if pkg == "" {
		return Kernel{}, fmt.Errorf("linux-image-amd64 names no kernel package:\n%s", out)
	}
	k := Kernel{Version: strings.TrimPrefix(pkg, "linux-image-"), Root: filepath.Join(cache, pkg)}
	if _, err := os.Stat(filepath.Join(k.ModulesDir(), "modules.dep")); err == nil {
		return k, nil
	}
	debs, _ := filepath.Glob(filepath.Join(cache, pkg+"_*.deb"))
	if len(debs) == 0 {
		fmt.Fprintf(log, "mkimage: downloading %s\n", pkg)
		if err := run(ctx, log, cache, "apt-get", "download", pkg); err != nil {
			return Kernel{}, err
		}
		debs, _ = filepath.Glob(filepath.Join(cache, pkg+"_*.deb"))
		if len(debs) == 0 {
			return Kernel{}, fmt.Errorf("apt-get download %s left no .deb in %s", pkg, cache)
		}
	}
	tmp := k.Root + ".tmp"
	os.RemoveAll(tmp)
	if err := run(ctx, log, cache, "dpkg-deb", "-x", debs[0], tmp); err != nil {
		return Kernel{}, err
	}
	if err := run(ctx, log, cache, "depmod", "-b", tmp, k.Version); err != nil {
		return Kernel{}, err
	}
	os.RemoveAll(k.Root)
	if err := os.Rename(tmp, k.Root); err != nil {
		return Kernel{}, err
	}
	return k, nil
}
