package config

import "fmt"

// VPN is the vpn section: the OpenVPN tunnel netctl keeps up to the
// admins. The profile and its secrets are not here; they live under the
// secrets folder and are changed through the VPN API (edgectl vpn import).
type VPN struct {
	// Enabled runs the tunnel whenever an uplink is up and a profile is
	// stored.
	Enabled bool `json:"enabled"`
	// Interface is the tun device's name; the firewall lets the web UI,
	// API and SSH answer on it. Changing it takes a restart of netctl.
	Interface string `json:"interface"`
}

// DefaultVPN is the vpn section of a fresh box.
func DefaultVPN() VPN { return VPN{Enabled: true, Interface: "tun0"} }

// Validate reports what is wrong with the vpn section, naming fields.
func (s VPN) Validate() error {
	if !validIfName(s.Interface) {
		return fmt.Errorf("vpn.interface: %q is not a usable interface name (1-15 letters, digits, '-' or '_', starting with a letter)", s.Interface)
	}
	return nil
}

func validIfName(n string) bool {
	if len(n) == 0 || len(n) > 15 {
		return false
	}
	for i, r := range n {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(r >= '0' && r <= '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}
