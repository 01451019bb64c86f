package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"edgebox/image"
)

// ctl drives a running `make run` for rehearsals: "wan off|on" pulls or
// plugs the WAN cable through QEMU's monitor, anything else is a command
// for the simulated modem's control socket (sms, drop, reg, sim, help...).
func ctl(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	out := fs.String("out", "out", "the output directory make run boots from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	words := fs.Args()
	if len(words) == 0 {
		return errors.New("usage: mkimage ctl [-out DIR] wan off|on | sms FROM TEXT | drop | reg home|searching|denied | help")
	}
	build := filepath.Join(*out, "build")
	if words[0] == "wan" {
		if len(words) != 2 || (words[1] != "on" && words[1] != "off") {
			return errors.New("wan: want 'wan off' (cable pulled) or 'wan on'")
		}
		return monitorCommand(filepath.Join(build, image.MonitorSocket), "set_link wannic "+words[1], stdout)
	}
	return controlCommand(filepath.Join(build, image.ModemControlSocket), strings.Join(words, " "), stdout)
}

// dialRun connects to a socket of a running make run, or says it is not.
func dialRun(path string) (*net.UnixConn, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s does not answer: is make run (mkimage boot) running with this -out?", path)
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	return c.(*net.UnixConn), nil
}

// controlCommand sends one line to modemsim's control socket and prints
// its answer ("OK ..." or "ERROR ...", an error then).
func controlCommand(path, line string, stdout io.Writer) error {
	c, err := dialRun(path)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := fmt.Fprintln(c, line); err != nil {
		return err
	}
	c.CloseWrite() // the simulator answers, then hangs up
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	ans := strings.TrimSpace(string(b))
	if rest, ok := strings.CutPrefix(ans, "ERROR "); ok {
		return errors.New("the simulated modem refused it: " + rest)
	}
	fmt.Fprintln(stdout, ans)
	return nil
}

// monitorCommand runs one command on QEMU's human monitor: it waits for
// the prompt, sends the command and prints what QEMU says before the next
// prompt (nothing when it worked).
func monitorCommand(path, cmd string, stdout io.Writer) error {
	c, err := dialRun(path)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := readPrompt(r); err != nil {
		return fmt.Errorf("QEMU's monitor: %v", err)
	}
	if _, err := fmt.Fprintf(c, "%s\n", cmd); err != nil {
		return err
	}
	said, err := readPrompt(r)
	if err != nil {
		return fmt.Errorf("QEMU's monitor: %v", err)
	}
	// QEMU echoes the command line; anything after it is its answer.
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(said, "\r", ""), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, cmd) {
			lines = append(lines, l)
		}
	}
	if len(lines) > 0 {
		return errors.New("QEMU said: " + strings.Join(lines, "; "))
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}

// readPrompt reads up to QEMU's "(qemu) " prompt.
func readPrompt(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), "(qemu) ") {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return strings.TrimSuffix(b.String(), "(qemu) "), nil
}
