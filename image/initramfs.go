package image

import (
	"bytes"
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Commands are the Go programs in the initramfs, built into one busybox
// binary (/bbin/bb) with a symlink per name. init is built apart, as /init.
var Commands = []string{"cmd/netctl", "cmd/gateway", "cmd/web", "cmd/edgectl"}

// InitCommand is built on its own, not into the busybox binary: a Go
// program initialises every package it links before main, and the busybox
// binary links pion, whose pion/rtp reads crypto/rand in its init. That
// read waits for the kernel's random pool, which under QEMU (and on a
// board without a CPU random source) fills only seconds into the boot, so
// PID 1 would sit idle that long before loading a single module.
const InitCommand = "init"

// HostFiles are Debian binaries shipped in the image with their shared
// libraries (mkuimage adds those through ldd): openvpn for the tunnel,
// e2fsprogs so init can create and check /perm, pppd for PPP-only modems
// with chat for its dial script and /bin/sh, which pppd runs that script
// with ("connect" is passed to sh -c).
var HostFiles = map[string]string{
	"/usr/sbin/openvpn": "usr/sbin/openvpn",
	// openvpn loads OpenSSL's legacy provider (for old servers' BF-CBC)
	// from the folder libcrypto was built with; ldd does not see it.
	"/usr/lib/x86_64-linux-gnu/ossl-modules/legacy.so": "usr/lib/x86_64-linux-gnu/ossl-modules/legacy.so",
	"/usr/sbin/mke2fs": "sbin/mke2fs",
	"/usr/sbin/e2fsck": "sbin/e2fsck",
	"/usr/sbin/pppd":   "usr/sbin/pppd",
	"/usr/sbin/chat":   "usr/sbin/chat",
	"/usr/bin/dash":    "bin/sh",
	// Go's TLS clients take the system roots from here: the gateway's
	// SIP over TLS to a PBX with a public certificate and no
	// gateway.sip.tls_ca. Without it every such PBX was "certificate
	// signed by unknown authority" on the box and fine on the host.
	"/etc/ssl/certs/ca-certificates.crt": "etc/ssl/certs/ca-certificates.crt",
}

// buildModule is the module path the source is staged under for mkuimage.
// gobusybox (v0.3.0) treats an import path whose first element has no dot
// as the standard library and does not copy it, so the dotless module
// "edgebox" would build without its own packages. The staged copy renames
// the module and its imports; nothing in the repository changes.
const buildModule = "edgebox.build/edgebox"

// StageSource copies the Go module at repo into dst with the module path
// renamed to buildModule, so gobusybox can build it.
func StageSource(repo, dst string) error {
	os.RemoveAll(dst)
	return filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, path)
		if d.IsDir() {
			if rel == ".git" || rel == "out" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case rel == "go.mod":
			data = bytes.Replace(data, []byte("module edgebox\n"), []byte("module "+buildModule+"\n"), 1)
		case strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go"):
			if data, err = renameImports(path, data); err != nil {
				return err
			}
		case strings.HasSuffix(rel, "_test.go"):
			return nil // tests are not part of the image
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

// renameImports rewrites only the import paths of the module's own packages.
func renameImports(name string, src []byte) ([]byte, error) {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", name, err)
	}
	var out bytes.Buffer
	last := 0
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if path != "edgebox" && !strings.HasPrefix(path, "edgebox/") {
			continue
		}
		start, end := int(imp.Path.Pos())-1, int(imp.Path.End())-1
		out.Write(src[last:start])
		out.WriteString(strconv.Quote(buildModule + strings.TrimPrefix(path, "edgebox")))
		last = end
	}
	out.Write(src[last:])
	return out.Bytes(), nil
}

// mkuimageTool builds u-root's mkuimage at the version go.mod pins.
func mkuimageTool(ctx context.Context, repo, tools string, log io.Writer) (string, error) {
	bin := filepath.Join(tools, "mkuimage")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintln(log, "mkimage: building u-root mkuimage")
	if err := run(ctx, log, repo, "go", "build", "-o", bin, "github.com/u-root/mkuimage/cmd/mkuimage"); err != nil {
		return "", err
	}
	return bin, nil
}

// BuildTags are the Go build tags of the image's multi-call binary.
// edgebox_nopprof leaves the gateway's profiler (net/http/pprof,
// cmd/gateway/pprof.go) out: every service maps nearly the whole binary,
// so its ~0.4 MB were resident in each (issue 17: idle memory). Host
// builds (make bench) keep it.
var BuildTags = []string{"edgebox_nopprof"}

// BuildInitramfs stages the source, runs mkuimage in bb mode with the host
// files and the staged root overlay, and compresses the archive to dst.
func BuildInitramfs(ctx context.Context, repo, work, overlay, dst string, log io.Writer) error {
	tool, err := mkuimageTool(ctx, repo, filepath.Join(work, "tools"), log)
	if err != nil {
		return err
	}
	src := filepath.Join(work, "src")
	if err := StageSource(repo, src); err != nil {
		return err
	}
	cpio := filepath.Join(work, "initramfs.cpio")
	initBin := filepath.Join(work, "init")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", initBin, "./"+InitCommand)
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", InitCommand, err, out)
	}
	args := []string{"-build=bb", "-format=cpio", "-o", cpio, "-initcmd=", "-defaultsh=", "-go-mod=mod",
		"-files", initBin + ":init",
		// gobusybox compiles in GOPATH mode, where Go applies the GODEBUG
		// defaults of Go 1.20: the old ServeMux without "GET /path"
		// patterns, TLS 1.0 servers, 3DES and RSA key exchange. An empty
		// runtime.godebugDefault gives the current, safe defaults.
		"-go-extra-args=-ldflags=-s -w -X=runtime.godebugDefault=",
		// gobusybox builds with -gcflags=all=-l (no inlining, for size)
		// unless told: the box then ran slower code than make bench
		// measures on the host build (the cold SRTP sessions' benchmark
		// 0.7-0.95x with inlining), for ~10 % more binary.
		"-go-enable-inlining"}
	for _, tag := range BuildTags {
		args = append(args, "-go-build-tags="+tag)
	}
	for host, in := range HostFiles {
		if _, err := os.Stat(host); err != nil {
			return fmt.Errorf("%s is missing on the build machine: run make deps", host)
		}
		args = append(args, "-files", host+":"+in)
	}
	entries, err := os.ReadDir(overlay)
	if err != nil {
		return err
	}
	for _, e := range entries {
		args = append(args, "-files", filepath.Join(overlay, e.Name())+":"+e.Name())
	}
	for _, c := range Commands {
		if m, _ := filepath.Glob(filepath.Join(repo, c, "*.go")); len(m) == 0 {
			fmt.Fprintf(log, "mkimage: WARNING: command %s has no source yet; the image will lack it\n", c)
			continue
		}
		args = append(args, "./"+c)
	}
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mkuimage: %w\n%s", err, out)
	}
	return compressInitramfs(ctx, cpio, dst, log)
}

// compressInitramfs compresses the archive with zstd at level 19, as the
// kernel's own build does for a zstd initramfs: 17.4 MB where gzip -9 made
// 21.8 (the goal is kernel + initramfs <= 30 MB). Debian's kernel has
// CONFIG_RD_ZSTD and tells the format by its magic number, so the file
// keeps its historical name (initramfs.cpio.gz, initrd.gz in the slots:
// update bundles and slots written by older firmware use those names).
// AppendInitramfs still appends gzip: the kernel unpacks each part by its
// own format.
func compressInitramfs(ctx context.Context, src, dst string, log io.Writer) error {
	return run(ctx, log, filepath.Dir(src), "zstd", "-q", "-f", "-19", "-T0", "-o", dst, src)
}
