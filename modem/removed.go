package modem

// A card pulled out of its slot (or a USB modem unplugged): its tty and
// its network device leave the system. Told apart from a card that
// reboots (whose port also fails, and comes back) by its device node:
// gone, and no reboot asked for, it was removed. Reported at once
// instead of after the recovery's timeouts and resets, which cannot
// bring back a card that is not there.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// ErrRemoved is returned by commands while the modem's port is gone.
var ErrRemoved = errors.New("modem removed (USB device gone)")

// removedPolls bound the wait for the node to vanish after a failed read:
// the kernel hangs the tty up before it unregisters the device.
const (
	removedPolls    = 10
	removedPollStep = 50 * time.Millisecond
)

// nodeGone is EngineConfig.Gone for a port at path.
func nodeGone(path string) func() bool {
	return func() bool {
		_, err := os.Stat(path)
		return errors.Is(err, fs.ErrNotExist)
	}
}

// ExpectReboot tells the engine that its owner restarts the card (the
// slot's reset line): the port vanishing within d is that reboot, not a
// removal. Reset commands sent through the engine do this themselves.
func (e *Engine) ExpectReboot(d time.Duration) {
	e.mu.Lock()
	e.rebootUntil = time.Now().Add(d)
	e.mu.Unlock()
}

func (e *Engine) rebootExpected() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Before(e.rebootUntil)
}

// resetCommand says whether cmd restarts the card.
func (e *Engine) resetCommand(cmd string) bool {
	c := strings.ToUpper(strings.Join(strings.Fields(cmd), ""))
	return c == "AT+CFUN=1,1" || e.cfg.ResetCommand != "" && c == strings.ToUpper(e.cfg.ResetCommand)
}

// checkRemoved marks the engine removed when the port failed (cause) and
// its device node is gone, and tells the subscribers once.
func (e *Engine) checkRemoved(cause error) {
	if e.cfg.Gone == nil || e.removed || e.rebootExpected() {
		return
	}
	gone := false
	for i := 0; i < removedPolls && !gone; i++ {
		if gone = e.cfg.Gone(); !gone && i < removedPolls-1 {
			time.Sleep(removedPollStep)
		}
	}
	if !gone {
		return // a reboot or a hiccup: recovery's business
	}
	e.removed = true
	e.timeouts, e.timedOut, e.unsynced = 0, false, false
	e.log.Warn("modem removed: its port's device is gone", "err", cause)
	e.publish(URC{Engine: "removed", Err: fmt.Errorf("%w (%v)", ErrRemoved, cause)})
}

// replugged opens the port of a removed modem again; true when it is
// back (the subscribers hear "replugged": a new card, or the same one
// freshly booted, to be set up again).
func (e *Engine) replugged() bool {
	e.closePort()
	if err := e.openPort(); err != nil {
		return false
	}
	e.removed = false
	e.timeouts, e.timedOut = 0, false
	e.log.Info("modem port back after its removal")
	e.publish(URC{Engine: "replugged"})
	return true
}
