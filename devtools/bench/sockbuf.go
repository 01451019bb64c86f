package bench

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// uasSockBuf is the receive/send buffer the benchmark gives SIPp's RTP
// echo and SIP sockets. SIPp leaves them at the kernel default (about
// 212 KB, -buff_size does not reach them): one socket echoing every
// call's RTP, or taking every call's SIP, then overflows whenever its
// thread waits for a core, and the loss and failures the benchmark
// reports would be the load generator's, not the gateway's.
const uasSockBuf = 8 << 20

// forceUDPBuffers sets the buffers of the UDP sockets process pid has
// bound to ip:port (for each port), taking a copy of its file
// descriptor with pidfd_getfd (Linux 5.6, root) and setting
// SO_RCVBUFFORCE/SO_SNDBUFFORCE on it: the socket is shared, so the
// process's own descriptor sees the new sizes.
func forceUDPBuffers(pid int, size int, ip netip.Addr, ports ...int) error {
	inodes, err := udpInodes(pid, ip, ports)
	if err != nil {
		return err
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return err
	}
	found := 0
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if !inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			continue
		}
		target, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, err := unix.PidfdGetfd(pidfd, target, 0)
		if err != nil {
			return fmt.Errorf("pidfd_getfd %d/%d: %w", pid, target, err)
		}
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		if err == nil {
			err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("socket buffers of %d/%d: %w", pid, target, err)
		}
		found++
	}
	if found < len(ports) {
		return fmt.Errorf("process %d: %d of the UDP sockets on ports %v found", pid, found, ports)
	}
	return nil
}

// udpInodes are the socket inodes bound to ip at the given UDP ports, in
// the network namespace of process pid.
func udpInodes(pid int, ip netip.Addr, ports []int) (map[string]bool, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", pid))
	if err != nil {
		return nil, err
	}
	// the address as the kernel prints it: its 4 bytes as a host-order
	// (little-endian) number
	a := ip.As4()
	want := map[string]bool{}
	for _, p := range ports {
		want[fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], p)] = true
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 10 && want[f[1]] {
			out[f[9]] = true
		}
	}
	return out, nil
}
