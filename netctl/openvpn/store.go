package openvpn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"edgebox/api/vpnapi"
	"edgebox/internal/atomicfile"
)

// Credentials are the secrets openvpn asks for (vpnapi).
type Credentials = vpnapi.Credentials

// maxSecretLen stays below openvpn's USER_PASS_LEN.
const maxSecretLen = vpnapi.MaxSecretLen

// secrets is the stored form of Credentials.
type secrets struct {
	Passphrase string `json:"passphrase,omitempty"`
	Username   string `json:"username,omitempty"`
	Password   string `json:"password,omitempty"`
	// AskPassword: the profile's login file held the username only, so
	// the password is to be asked for, not sent empty. A password stored
	// empty on purpose (a server that checks the username or the
	// certificate only) is still sent.
	AskPassword bool `json:"ask_password,omitempty"`
}

// loginMissing says whether openvpn's login cannot be answered yet.
func (s secrets) loginMissing() bool {
	return s.Username == "" || (s.AskPassword && s.Password == "")
}

func (s *secrets) apply(c Credentials) {
	if c.Passphrase != nil {
		s.Passphrase = *c.Passphrase
	}
	if c.Username != nil {
		s.Username = *c.Username
	}
	if c.Password != nil {
		s.Password, s.AskPassword = *c.Password, false
	}
}

// store keeps the profile and the credentials under the secrets folder,
// each file 0600 and replaced atomically.
type store struct {
	dir string
}

func (s store) profilePath() string { return filepath.Join(s.dir, "profile.ovpn") }
func (s store) secretsPath() string { return filepath.Join(s.dir, "credentials.json") }

func (s store) ensureDir() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("vpn profile folder: %w", err)
	}
	return os.Chmod(s.dir, 0o700)
}

// loadProfile returns the stored profile, or nil when there is none.
func (s store) loadProfile() (*Profile, error) {
	data, err := os.ReadFile(s.profilePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read vpn profile: %w", err)
	}
	p, err := ParseProfile(data, "profile.ovpn", nil)
	if err != nil {
		return nil, fmt.Errorf("stored vpn profile: %w", err)
	}
	return p, nil
}

func (s store) saveProfile(p *Profile) error {
	if err := s.ensureDir(); err != nil {
		return err
	}
	return atomicfile.WriteFileKeepPrevious(s.profilePath(), p.withHeader(), 0o600)
}

func (s store) loadSecrets() (secrets, error) {
	var sec secrets
	data, err := os.ReadFile(s.secretsPath())
	if errors.Is(err, os.ErrNotExist) {
		return sec, nil
	}
	if err != nil {
		return sec, fmt.Errorf("read vpn credentials: %w", err)
	}
	if err := json.Unmarshal(data, &sec); err != nil {
		return sec, fmt.Errorf("vpn credentials file is damaged: %w", err)
	}
	return sec, nil
}

func (s store) saveSecrets(sec secrets) error {
	if err := s.ensureDir(); err != nil {
		return err
	}
	data, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.secretsPath(), data, 0o600)
}
