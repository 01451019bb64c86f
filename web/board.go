package web

import (
	"os"
	"sort"
	"strings"

	"edgebox/boards"
)

// BoardLANInterfaces returns the kernel names of the running board's LAN
// ports (roles lan1, lan2 ...), so the UI answers on the LAN port even
// where netctl has not renamed or bridged it (QEMU's eth0).
func BoardLANInterfaces() []string {
	cmdline, _ := os.ReadFile("/proc/cmdline")
	p, _, _ := boards.Detect(boards.ReadDMI("/sys"), boards.CmdlineValue(string(cmdline), "edgebox.board"))
	var out []string
	for role, name := range p.Interfaces("/sys") {
		if strings.HasPrefix(role, "lan") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
