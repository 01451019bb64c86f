// Package clock sets the box's time: the system clock and the board's
// battery-backed RTC, which the kernel reads at boot (CONFIG_RTC_HCTOSYS).
// Setting the system clock alone is lost at the next reboot: the kernel
// writes it back to the RTC only while an NTP daemon marks it synchronised
// (adjtimex), and the box has none. web sets the time from the installer's
// phone, netctl from the NTP servers.
package clock

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// RTC is the board's clock device.
const RTC = "/dev/rtc0"

// Set sets the system clock to t, then the RTC at rtc ("" for none). An
// error from the RTC alone is an *RTCError: the system clock is set, but
// a reboot loses it.
func Set(t time.Time, rtc string) error {
	tv := unix.NsecToTimeval(t.UnixNano())
	if err := unix.Settimeofday(&tv); err != nil {
		return fmt.Errorf("set the system clock: %w", err)
	}
	if rtc == "" {
		return nil
	}
	return WriteRTC(rtc, t)
}

// RTCError is a system clock set with an RTC that could not be written.
type RTCError struct{ Err error }

func (e *RTCError) Error() string {
	return fmt.Sprintf("the clock is set but a reboot loses it: %v", e.Err)
}
func (e *RTCError) Unwrap() error { return e.Err }

// WriteRTC sets the hardware clock at path to t, in UTC (as the kernel
// reads it at boot).
func WriteRTC(path string, t time.Time) error {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return &RTCError{fmt.Errorf("the board's clock %s: %w", path, err)}
	}
	defer unix.Close(fd)
	u := t.UTC()
	rt := unix.RTCTime{Sec: int32(u.Second()), Min: int32(u.Minute()), Hour: int32(u.Hour()),
		Mday: int32(u.Day()), Mon: int32(u.Month()) - 1, Year: int32(u.Year()) - 1900}
	if err := unix.IoctlSetRTCTime(fd, &rt); err != nil {
		return &RTCError{fmt.Errorf("the board's clock %s: %w", path, err)}
	}
	return nil
}
