package config

// Gateway is the gateway section. Its owner fills in the fields.
type Gateway struct{}

// DefaultGateway is the gateway section of a fresh box.
func DefaultGateway() Gateway { return Gateway{} }

// Validate reports what is wrong with the gateway section, naming fields.
func (s Gateway) Validate() error { return nil }
