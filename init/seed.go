package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"edgebox/internal/atomicfile"
)

// seedSize is the seed kept on /perm: 256 bits, what the kernel needs to
// call its pool initialised.
const seedSize = 32

// randomSeed carries the kernel's random pool over reboots, as
// systemd-random-seed does. Without a CPU random source (the APU's
// GX-412TC has no RDRAND, nor has QEMU's default CPU) the pool fills only
// seconds into the boot, and every service that reads crypto/rand (TLS
// keys, SRTP, pion) waits for it. The seed saved by the last boot is
// credited at once and replaced before anything else reads the pool, so
// no seed is ever credited twice; /perm is made on the box itself, so no
// two boxes share one. With no seed (first boot, a new /perm), a seed is
// saved as soon as the pool is ready.
func randomSeed(path string, credit func([]byte) error, log *slog.Logger) {
	old, err := os.ReadFile(path)
	if err == nil && len(old) == seedSize {
		if err := credit(old); err != nil {
			log.Warn("random seed not credited; services may wait for the kernel's random pool", "err", err)
		}
	}
	save := func() {
		fresh := make([]byte, seedSize)
		rand.Read(fresh) // waits for the pool when nothing was credited
		if err := atomicfile.WriteFile(path, fresh, 0o600); err != nil {
			log.Warn("random seed not saved; the next boot waits for the kernel's random pool", "err", err)
		}
	}
	if err == nil && len(old) == seedSize {
		save() // before anything else can use the credited pool
		return
	}
	go save()
}

// creditEntropy mixes seed into the kernel's pool and counts it as
// entropy (RNDADDENTROPY, which needs CAP_SYS_ADMIN).
func creditEntropy(seed []byte) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	binary.NativeEndian.PutUint32(info[0:], uint32(8*len(seed)))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(seed)))
	copy(info[8:], seed)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); errno != 0 {
		return fmt.Errorf("RNDADDENTROPY: %w", errno)
	}
	return nil
}
