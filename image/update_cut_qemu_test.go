package image

import (
	"os"
	"testing"
	"time"
)

// TestQEMUUpdatePowerCutInTrialBoot: an update is installed and the box
// reboots into it on trial; the power goes while the new version boots,
// before it confirmed itself. The next boot must come back on the old,
// confirmed version, and the admin must read that the update was rolled
// back and why, not find the old version with nothing said.
func TestQEMUUpdatePowerCutInTrialBoot(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "")
	bundle := variantBundle(t, "test-v2-cut", "", nil)
	b := bootBox(t, disk, false)
	h, _ := b.waitHealthy(3 * time.Minute)
	oldVersion := h.Version
	tok := b.adminToken()
	data, _ := os.ReadFile(bundle)
	if _, err := b.upload(tok, data, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vm.WaitConsole("edgebox init test-v2-cut starting", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	b.vm.Kill() // the power cut, the trial not confirmed

	b2 := bootBox(t, disk, false)
	h, _ = b2.waitHealthy(4 * time.Minute)
	if h.Version != oldVersion {
		t.Fatalf("after a power cut in the trial boot the box runs %q, not the confirmed %q", h.Version, oldVersion)
	}
	s := b2.system(b2.token("installer-secret-1"))
	t.Logf("after the power cut in the trial: %+v", s)
	if s.Slot != "A" || !s.Confirmed {
		t.Errorf("after the power cut in the trial: %+v, want slot A confirmed", s)
	}
	if s.RollbackReason == "" {
		t.Errorf("the box is back on %s with nothing said: /api/v1/system has no rollback reason for the update test-v2-cut that never confirmed", oldVersion)
	}
}
