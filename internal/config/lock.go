package config

import (
	"os"

	"golang.org/x/sys/unix"
)

// Lock takes the cross-process lock of the config file at path and
// returns its release. Two services write config.json: web for every
// save, netctl for the PIN a PUK entry set; each loads, changes and saves,
// so without one lock around the whole of that a save at the same moment
// as the other's lost one of the two changes. The lock is flock(2) on
// path.lock beside it, released by the kernel if the holder dies. Where
// the lock file cannot be made (no writable /perm) nothing can be saved
// either, and the release is a no-op.
func Lock(path string) (release func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return func() {}
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return func() {}
	}
	return func() { f.Close() } // closing the last descriptor releases the lock
}
