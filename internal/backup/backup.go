// Package backup seals and opens the box's config backups (format 2).
//
// A backup is readable JSON: the config with its secrets replaced by
// Redacted, so an admin can see what it holds, plus the whole config
// encrypted with AES-256-GCM under a key derived with scrypt from a
// passphrase the admin chooses, plus an HMAC-SHA256 over everything. A
// restore needs the passphrase, refuses any file changed after it was
// made, and takes the config from the encrypted part only. web makes and
// restores backups; edgectl opens one offline to check it.
package backup

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/scrypt"

	"edgebox/api/webapi"
)

// scryptN is scrypt's cost: 2^15 takes about 0.1 s and 32 MiB on an APU.
var scryptN = 1 << 15

// maxKDFMemory bounds what a restore lets scrypt take (128*N*r bytes):
// the parameters come from the file, and a doctored one could otherwise
// ask for more memory than the box has. Twice what Seal uses.
const maxKDFMemory = 64 << 20

var (
	errPassphrase    = errors.New("passphrase: wrong passphrase, or the file was changed after it was made")
	errNoPassphrase  = errors.New("passphrase: this backup is encrypted: give its passphrase")
	errShortPassword = fmt.Errorf("passphrase: use at least %d characters", webapi.MinPassphraseLen)
)

func backupKeys(pass string, sc *webapi.SealedConfig) (encKey, macKey []byte, err error) {
	if sc.KDF != "scrypt" || sc.N < 1<<10 || sc.N > 1<<20 || sc.R < 1 || sc.R > 32 || sc.P < 1 || sc.P > 2 || len(sc.Salt) < 16 ||
		128*int64(sc.N)*int64(sc.R) > maxKDFMemory {
		return nil, nil, errors.New("backup: unknown or unsafe key derivation parameters")
	}
	k, err := scrypt.Key([]byte(pass), sc.Salt, sc.N, sc.R, sc.P, 64)
	if err != nil {
		return nil, nil, err
	}
	return k[:32], k[32:], nil
}

// macInput is what the integrity HMAC covers: every field but itself,
// with the config compacted so whitespace changes do not matter.
func macInput(b *webapi.Backup) []byte {
	var cfg bytes.Buffer
	if err := json.Compact(&cfg, b.Config); err != nil {
		cfg.Reset()
		cfg.Write(b.Config)
	}
	c := *b
	c.Integrity = ""
	c.Config = cfg.Bytes()
	out, _ := json.Marshal(c)
	return out
}

// Seal makes a format-2 backup of the config document full.
func Seal(full []byte, redacted map[string]any, pass, hostname, version string, now time.Time) (*webapi.Backup, error) {
	if len(pass) < webapi.MinPassphraseLen {
		return nil, errShortPassword
	}
	sc := &webapi.SealedConfig{KDF: "scrypt", N: scryptN, R: 8, P: 1, Salt: make([]byte, 16), Nonce: make([]byte, 12)}
	rand.Read(sc.Salt)
	rand.Read(sc.Nonce)
	encKey, macKey, err := backupKeys(pass, sc)
	if err != nil {
		return nil, err
	}
	blk, _ := aes.NewCipher(encKey)
	gcm, _ := cipher.NewGCM(blk)
	sc.Ciphertext = gcm.Seal(nil, sc.Nonce, full, []byte("edgebox backup 2"))
	rc, err := json.Marshal(redacted)
	if err != nil {
		return nil, err
	}
	b := &webapi.Backup{Format: webapi.BackupFormat, Created: now.UTC().Truncate(time.Second), Hostname: hostname, Version: version, Config: rc, Secrets: sc}
	m := hmac.New(sha256.New, macKey)
	m.Write(macInput(b))
	b.Integrity = hex.EncodeToString(m.Sum(nil))
	return b, nil
}

// Open checks a format-2 backup with its passphrase and returns
// the whole config it holds.
func Open(b *webapi.Backup, pass string) ([]byte, error) {
	if b.Secrets == nil || b.Integrity == "" {
		return nil, errors.New("backup: the file lacks its encrypted part or integrity check: it is damaged")
	}
	if pass == "" {
		return nil, errNoPassphrase
	}
	encKey, macKey, err := backupKeys(pass, b.Secrets)
	if err != nil {
		return nil, err
	}
	want, err := hex.DecodeString(b.Integrity)
	if err != nil {
		return nil, errPassphrase
	}
	m := hmac.New(sha256.New, macKey)
	m.Write(macInput(b))
	if !hmac.Equal(m.Sum(nil), want) {
		return nil, errPassphrase
	}
	blk, _ := aes.NewCipher(encKey)
	gcm, _ := cipher.NewGCM(blk)
	if len(b.Secrets.Nonce) != gcm.NonceSize() {
		return nil, errPassphrase
	}
	full, err := gcm.Open(nil, b.Secrets.Nonce, b.Secrets.Ciphertext, []byte("edgebox backup 2"))
	if err != nil {
		return nil, errPassphrase
	}
	return full, nil
}
