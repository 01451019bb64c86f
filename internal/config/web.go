package config

// Web is the web section. Its owner fills in the fields.
type Web struct{}

// DefaultWeb is the web section of a fresh box.
func DefaultWeb() Web { return Web{} }

// Validate reports what is wrong with the web section, naming fields.
func (s Web) Validate() error { return nil }
