package config

// Network is the network section. Its owner fills in the fields.
type Network struct{}

// DefaultNetwork is the network section of a fresh box.
func DefaultNetwork() Network { return Network{} }

// Validate reports what is wrong with the network section, naming fields.
func (s Network) Validate() error { return nil }
