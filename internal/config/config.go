// Package config is the box's one configuration file,
// /perm/edgebox/config.json: versioned, validated before it is stored, written
// atomically with the previous version kept. Each service owns one section,
// declared in its own file here (network.go, vpn.go, gateway.go, web.go).
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"edgebox/internal/atomicfile"
	"edgebox/internal/paths"
)

// SchemaVersion is the config schema this build writes. A file with a newer
// version is never rewritten by this build (see ErrNewerSchema).
const SchemaVersion = 1

// Config is the whole configuration of a box.
type Config struct {
	Version int     `json:"version"`
	System  System  `json:"system"`
	Network Network `json:"network"`
	VPN     VPN     `json:"vpn"`
	Gateway Gateway `json:"gateway"`
	Web     Web     `json:"web"`
}

// System holds box-wide settings.
type System struct {
	// Hostname overrides the default edgebox-XXXXXX name.
	Hostname string   `json:"hostname,omitempty"`
	Timezone string   `json:"timezone,omitempty"`
	NTP      []string `json:"ntp,omitempty"`
	// Syslog is the remote syslog target for service logs: host:port
	// (UDP) or tcp://host:port; see ParseSyslog.
	Syslog string `json:"syslog,omitempty"`
}

// ErrNewerSchema means the file was written by a newer firmware: it is read
// as far as it can be but never rewritten, so a rollback cannot damage it.
var ErrNewerSchema = errors.New("config was written by a newer firmware")

// Default is the configuration of a box that has never been set up.
func Default() *Config {
	c := &Config{Version: SchemaVersion}
	c.Network = DefaultNetwork()
	c.VPN = DefaultVPN()
	c.Gateway = DefaultGateway()
	c.Web = defaultWeb()
	return c
}

// Validate checks every section and joins all problems into one error whose
// lines name the offending fields.
func (c *Config) Validate() error {
	var errs []error
	if c.Version < 1 || c.Version > SchemaVersion {
		errs = append(errs, fmt.Errorf("version: %d is not a schema this firmware knows (1..%d)", c.Version, SchemaVersion))
	}
	if h := c.System.Hostname; h != "" && !validHostname(h) {
		errs = append(errs, fmt.Errorf("system.hostname: %q is not a valid host name (letters, digits, '-', at most 63)", h))
	}
	if _, err := ParseSyslog(c.System.Syslog); err != nil {
		errs = append(errs, fmt.Errorf("system.syslog: %w", err))
	}
	for _, e := range []error{c.Network.Validate(), c.VPN.Validate(), c.Gateway.Validate(), c.Web.Validate()} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

func validHostname(h string) bool {
	if len(h) > 63 || strings.HasPrefix(h, "-") || strings.HasSuffix(h, "-") {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Parse decodes and validates a config document, migrating older schemas.
// Unknown fields are an error so a typo is never silently ignored.
func Parse(data []byte) (*Config, error) {
	c, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Decode is Parse without Validate: a service's reload (internal/service)
// reports a document it cannot read apart from one that reads but breaks
// a rule. Anything put into effect must still pass Validate.
func Decode(data []byte) (*Config, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("config is not valid JSON: %w", err)
	}
	if head.Version > SchemaVersion {
		return nil, fmt.Errorf("%w (schema %d, this firmware knows %d)", ErrNewerSchema, head.Version, SchemaVersion)
	}
	c := Default()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if c.Version == 0 {
		c.Version = SchemaVersion
	}
	return c, nil
}

// Load reads the config file at path; a missing file gives the defaults.
// A damaged file falls back to the previous version (ReadFile).
func Load(path string) (*Config, error) {
	data, _, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return Default(), nil
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// LoadDefault loads the box's config file.
func LoadDefault() (*Config, error) { return Load(paths.ConfigFile()) }

// Save validates c and stores it at path atomically, keeping the previous
// version as path.prev. It refuses to overwrite a file of a newer schema.
func Save(path string, c *Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config not saved: %w", err)
	}
	keepPrevious := true
	if old, err := os.ReadFile(path); err == nil {
		var head struct {
			Version int `json:"version"`
		}
		if json.Unmarshal(old, &head) == nil && head.Version > SchemaVersion {
			return fmt.Errorf("config not saved: %w", ErrNewerSchema)
		}
		// A damaged file is not kept as the previous version: that would
		// replace the last good one (ReadFile's fallback) with it.
		keepPrevious = !damaged(old)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dirOf(path), 0o700); err != nil {
		return fmt.Errorf("config not saved: %w", err)
	}
	if !keepPrevious {
		return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
	}
	return atomicfile.WriteFileKeepPrevious(path, append(data, '\n'), 0o600)
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}

// ReadFile returns the config document stored at path. When that file is
// damaged (empty or not JSON: a disk that lost the write, a file edited
// by hand and cut short) and the previous version path.prev is whole, it
// returns that one and a note saying so, so that the box comes up with
// its last good settings instead of services that cannot start. A
// missing file gives nil data (the defaults).
func ReadFile(path string) (data []byte, note string, err error) {
	data, err = os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read config: %w", err)
	}
	if !damaged(data) {
		return data, "", nil
	}
	prev, perr := os.ReadFile(path + ".prev")
	if perr != nil || damaged(prev) {
		return data, "", nil // the caller reports the damage
	}
	why := "empty"
	if len(bytes.TrimSpace(data)) > 0 {
		why = "not JSON"
	}
	return prev, fmt.Sprintf("%s is damaged (%s, %d bytes): running on the previous settings (%s); save the settings again to store them whole", path, why, len(data), path+".prev"), nil
}

// damaged reports whether a stored config document is cut short or
// garbled, as opposed to one that reads but breaks a rule.
func damaged(data []byte) bool {
	return len(bytes.TrimSpace(data)) == 0 || !json.Valid(data)
}
