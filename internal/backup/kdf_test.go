package backup

import (
	"testing"

	"edgebox/api/webapi"
)

// TestBackupKDFBounded: the scrypt parameters come from the backup file,
// so a doctored backup chooses what the restore costs. scrypt needs
// 128*N*r bytes: the old bounds (N up to 2^20, r up to 32, p up to 4)
// let a file ask for 4 GiB, more than an APU has, as soon as the admin
// typed the passphrase. Here N=2^20, r=1 (128 MiB, twice the new bound)
// was derived before the fix; now it is refused without deriving, and
// what Seal writes still opens.
func TestBackupKDFBounded(t *testing.T) {
	salt := make([]byte, 16)
	for _, sc := range []webapi.SealedConfig{
		{KDF: "scrypt", N: 1 << 20, R: 1, P: 1, Salt: salt},
		{KDF: "scrypt", N: 1 << 15, R: 32, P: 1, Salt: salt},
		{KDF: "scrypt", N: 1 << 15, R: 8, P: 4, Salt: salt},
	} {
		if _, _, err := backupKeys("a long passphrase", &sc); err == nil {
			t.Errorf("N=%d r=%d p=%d derived, want refused (at most %d MiB and p 2)", sc.N, sc.R, sc.P, maxKDFMemory>>20)
		}
	}
	ok := webapi.SealedConfig{KDF: "scrypt", N: scryptN, R: 8, P: 1, Salt: salt}
	if _, _, err := backupKeys("a long passphrase", &ok); err != nil {
		t.Errorf("the parameters Seal writes: %v", err)
	}
}
