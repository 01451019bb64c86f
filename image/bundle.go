package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"edgebox/internal/update"
)

// BundleOptions describe an update bundle to build from a kernel and an
// initramfs (docs/updates.md).
type BundleOptions struct {
	Work              string // scratch directory
	Kernel, Initramfs string
	Version           string
	Boards            []string
	Extra             string // extra kernel arguments (test hooks)
	Keys              []ed25519.PrivateKey
	Out               string
}

// MakeBundle builds the boot partition of both slots exactly as the disk
// image has them and writes the signed bundle to o.Out.
func MakeBundle(ctx context.Context, o BundleOptions, log io.Writer) (*update.Manifest, error) {
	if err := os.MkdirAll(o.Work, 0o755); err != nil {
		return nil, err
	}
	if len(o.Boards) == 0 {
		o.Boards = boardNames()
	}
	imgs := map[string]string{}
	for _, slot := range update.Slots {
		p, err := makeSlot(ctx, o.Work, slot, o.Kernel, o.Initramfs, o.Extra, log)
		if err != nil {
			return nil, err
		}
		defer os.Remove(p)
		imgs[slot] = p
	}
	m := update.Manifest{Version: o.Version, Boards: o.Boards, Created: time.Now().UTC().Truncate(time.Second), Cmdline: o.Extra}
	var err error
	if m.Kernel, err = update.FileInfo(o.Kernel); err != nil {
		return nil, err
	}
	if m.Initramfs, err = update.FileInfo(o.Initramfs); err != nil {
		return nil, err
	}
	tmp := o.Out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	man, err := update.BuildBundle(f, m, imgs, o.Keys)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return man, os.Rename(tmp, o.Out)
}

// SigningKeys returns the private keys (*.key) in dir, creating a
// development key pair first when there is none, and the directory's
// public keys (*.pub) are what the image trusts.
func SigningKeys(dir string, log io.Writer) ([]ed25519.PrivateKey, error) {
	names, _ := filepath.Glob(filepath.Join(dir, "*.key"))
	if len(names) == 0 {
		id, err := update.GenerateKey(dir, "dev")
		if err != nil {
			return nil, fmt.Errorf("create a development signing key: %w", err)
		}
		fmt.Fprintf(log, "mkimage: created development signing key %s in %s (keep release keys offline)\n", id, dir)
		names, _ = filepath.Glob(filepath.Join(dir, "*.key"))
	}
	sort.Strings(names)
	var keys []ed25519.PrivateKey
	for _, n := range names {
		k, err := update.LoadPrivateKey(n)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// stageTrustedKeys copies the public keys of dir into the initramfs
// overlay, where init looks for them (update.TrustedKeysDir).
func stageTrustedKeys(dir, overlay string) (int, error) {
	names, _ := filepath.Glob(filepath.Join(dir, "*.pub"))
	dst := filepath.Join(overlay, strings.TrimPrefix(update.TrustedKeysDir, "/"))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, err
	}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return 0, err
		}
		if _, err := update.ParsePublicKey(data); err != nil {
			return 0, fmt.Errorf("%s: %w", n, err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(n)), data, 0o644); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}

// AppendInitramfs writes dst: the initramfs src followed by a second,
// gzipped cpio archive with files (path -> content). The kernel unpacks
// both, the later over the earlier: how tests make a variant image (another
// version string, a marker file) without rebuilding.
func AppendInitramfs(src, dst string, files map[string]string) error {
	base, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var cp bytes.Buffer
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	dirs := map[string]bool{}
	ino := 1000
	for _, n := range names {
		n = strings.TrimPrefix(n, "/")
		for d := filepath.Dir(n); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl) // parents first
	for _, d := range dl {
		ino++
		writeNewc(&cp, ino, d, 0o040755, nil)
	}
	for _, n := range names {
		ino++
		writeNewc(&cp, ino, strings.TrimPrefix(n, "/"), 0o100644, []byte(files[n]))
	}
	writeNewc(&cp, 0, "TRAILER!!!", 0, nil)
	out := bytes.NewBuffer(base)
	zw := gzip.NewWriter(out)
	zw.Write(cp.Bytes())
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}

// writeNewc writes one entry of a cpio "newc" archive.
func writeNewc(w *bytes.Buffer, ino int, name string, mode uint32, data []byte) {
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	fmt.Fprintf(w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	w.WriteString(name)
	w.WriteByte(0)
	for w.Len()%4 != 0 {
		w.WriteByte(0)
	}
	w.Write(data)
	for w.Len()%4 != 0 {
		w.WriteByte(0)
	}
}
