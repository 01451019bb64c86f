package config

// VPN is the vpn section. Its owner fills in the fields.
type VPN struct{}

// DefaultVPN is the vpn section of a fresh box.
func DefaultVPN() VPN { return VPN{} }

// Validate reports what is wrong with the vpn section, naming fields.
func (s VPN) Validate() error { return nil }
