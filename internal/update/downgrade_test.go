package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		cmp  int
		ok   bool
	}{
		{"v1.4.0", "v1.5.0", -1, true},
		{"1.10", "1.9", 1, true},
		{"v2", "2.0.0", 0, true},
		{"v1.4.2-3-gabc123", "v1.4.2", 1, true},
		{"v1.4.2-3-gabc123-dirty", "v1.4.3", -1, true},
		{"v1.4.2-3-gabc123", "v1.4.2-12-gdef456", -1, true},
		{"de8163f", "v1.0", 0, false},
		{"dev", "dev", 0, false},
		{"v1.2.x", "v1.2", 0, false},
		{"v1.02", "v1.2", 0, false},
		{"1.2-rc1", "1.2", 0, false},
	} {
		cmp, ok := CompareVersions(c.a, c.b)
		if cmp != c.cmp || ok != c.ok {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d, %v", c.a, c.b, cmp, ok, c.cmp, c.ok)
		}
	}
}

func installAs(t testing.TB, disk string, b testBundle, running, current string, built time.Time, allow bool) (*Result, error) {
	t.Helper()
	data, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenDisk(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := &Installer{Disk: d, Running: running, Board: "qemu", Trusted: []ed25519.PublicKey{b.key.Public().(ed25519.PublicKey)},
		Current: current, CurrentBuilt: built, AllowDowngrade: allow}
	return in.Install(context.Background(), bytes.NewReader(data), int64(len(data)), "")
}

// TestInstallRefusesDowngrade: an older signed bundle, by version or, when
// versions do not compare, by signed build time, is refused before
// anything is written, unless AllowDowngrade; a newer one installs.
func TestInstallRefusesDowngrade(t *testing.T) {
	key := newKey(t)
	jan, jun := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	older := makeBundleOf(t, []string{"qemu"}, key, "v1.4.0", jun)
	newer := makeBundleOf(t, []string{"qemu"}, key, "v1.6.0", jan) // versions decide, not dates
	oldHash := makeBundleOf(t, []string{"qemu"}, key, "0a1b2c3", jan)
	newHash := makeBundleOf(t, []string{"qemu"}, key, "4d5e6f7", jun)

	for _, c := range []struct {
		name             string
		b                testBundle
		current          string
		built            time.Time
		allow, installed bool
		why              string
	}{
		{"older version", older, "v1.5.0", time.Time{}, false, false, "bundle version v1.4.0 is older than the running version v1.5.0"},
		{"older version allowed", older, "v1.5.0", time.Time{}, true, true, "older than the running version"},
		{"newer version", newer, "v1.5.0", jun.Add(time.Hour), false, true, ""},
		{"same version", older, "v1.4.0", time.Time{}, false, true, ""},
		{"older build", oldHash, "de8163f", jun, false, false, "was built 2026-01-01 00:00:00, before the running firmware de8163f"},
		{"older build allowed", oldHash, "de8163f", jun, true, true, "before the running firmware"},
		{"newer build", newHash, "de8163f", jan, false, true, ""},
		{"unknown running build", oldHash, "de8163f", time.Time{}, false, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			disk, _ := testDisk(t)
			before := slotBytes(t, disk, "B")
			res, err := installAs(t, disk, c.b, "A", c.current, c.built, c.allow)
			if !c.installed {
				if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), "allow-downgrade") {
					t.Fatalf("err %v, want a refusal saying %q and how to allow it", err, c.why)
				}
				if !bytes.Equal(before, slotBytes(t, disk, "B")) {
					t.Error("slot B was written although the downgrade was refused")
				}
				d, _ := OpenDisk(disk)
				defer d.Close()
				if tr, _, _ := pending(d, "A"); tr != nil {
					t.Errorf("trial armed after a refusal: %+v", tr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.why != "" && !strings.Contains(res.Downgrade, c.why) || c.why == "" && res.Downgrade != "" {
				t.Errorf("Result.Downgrade = %q, want %q", res.Downgrade, c.why)
			}
		})
	}
}

// TestConfirmRecordsBuildTime: the signed build time of a confirmed
// update is remembered, so the next install from that slot refuses an
// older build even when versions are bare git hashes.
func TestConfirmRecordsBuildTime(t *testing.T) {
	key := newKey(t)
	jan, jun := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	disk, _ := testDisk(t)
	if _, err := installAs(t, disk, makeBundleOf(t, []string{"qemu"}, key, "4d5e6f7", jun), "A", "0a1b2c3", time.Time{}, false); err != nil {
		t.Fatal(err)
	}
	st := Store{Dir: t.TempDir()}
	d, _ := OpenDisk(disk)
	err := Confirm(d, "B", st, "4d5e6f7", time.Now())
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	built := st.RunningBuilt("B", "4d5e6f7")
	if !built.Equal(jun) {
		t.Fatalf("RunningBuilt = %v, want %v", built, jun)
	}
	if got := st.RunningBuilt("B", "other"); !got.IsZero() {
		t.Errorf("RunningBuilt for a version never confirmed = %v", got)
	}
	_, err = installAs(t, disk, makeBundleOf(t, []string{"qemu"}, key, "0a1b2c3", jan), "B", "4d5e6f7", built, false)
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "before the running firmware") {
		t.Fatalf("older build from the confirmed slot: %v, want refused", err)
	}
}

func TestInstallOptionsPath(t *testing.T) {
	for o, want := range map[InstallOptions]string{
		{}:                                   "/v1/update",
		{Reboot: true}:                       "/v1/update?reboot=1",
		{AllowDowngrade: true}:               "/v1/update?allow_downgrade=1",
		{Reboot: true, AllowDowngrade: true}: "/v1/update?allow_downgrade=1&reboot=1",
	} {
		if got := o.Path("/v1/update"); got != want {
			t.Errorf("%+v: %s, want %s", o, got, want)
		}
	}
}

// TestFreshDiskRefusesOlderBuild: on a freshly written disk no update was
// ever confirmed, so the image's own recorded build time decides; before,
// any older bundle with a bare-hash version installed there.
func TestFreshDiskRefusesOlderBuild(t *testing.T) {
	key := newKey(t)
	jan, jun := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	saved := imageBuilt
	t.Cleanup(func() { imageBuilt = saved })
	imageBuilt = func() time.Time { return jun }
	disk, _ := testDisk(t)
	_, err := installAs(t, disk, makeBundleOf(t, []string{"qemu"}, key, "0a1b2c3", jan), "A", "de8163f", time.Time{}, false)
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "before the running firmware") {
		t.Fatalf("older build on a fresh disk: %v, want refused", err)
	}
	if _, err := installAs(t, disk, makeBundleOf(t, []string{"qemu"}, key, "4d5e6f7", jun.Add(time.Hour)), "A", "de8163f", time.Time{}, false); err != nil {
		t.Fatalf("newer build on a fresh disk: %v", err)
	}
}
