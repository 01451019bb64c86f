package update

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"edgebox/internal/version"
)

// Downgrades: an older signed bundle is still a valid bundle, so without
// this check anyone who may install updates could put back a firmware with
// known holes. A bundle is older when its version is lower (release-like
// versions such as v1.4.2 or 1.4.2-3-gabc123) or, when the versions do not
// compare (bare git hashes, dev builds), when its signed build time is
// before the running firmware's. Installing one needs AllowDowngrade, which
// the web API passes on for admin scope only, and is logged.

// CompareVersions compares release-like versions: an optional "v",
// dot-separated numbers, then an optional git-describe suffix "-N-gHASH"
// (N commits after the tag) and "-dirty". ok is false when either does not
// parse.
func CompareVersions(a, b string) (cmp int, ok bool) {
	pa, oka := parseVersion(a)
	pb, okb := parseVersion(b)
	if !oka || !okb {
		return 0, false
	}
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, true
}

// parseVersion returns the numbers of a version, the git-describe commit
// count last (so 1.2-3-gabc > 1.2 and < 1.3).
func parseVersion(v string) ([]int, bool) {
	v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "v"), "-dirty")
	commits := 0
	if i := strings.Index(v, "-"); i >= 0 {
		n, hash, ok := strings.Cut(v[i+1:], "-g")
		c, err := strconv.Atoi(n)
		if !ok || err != nil || c < 0 || hash == "" {
			return nil, false
		}
		commits, v = c, v[:i]
	}
	var out []int
	for _, f := range strings.Split(v, ".") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || f != strconv.Itoa(n) {
			return nil, false
		}
		out = append(out, n)
	}
	if len(out) > 4 {
		return nil, false
	}
	for len(out) < 4 {
		out = append(out, 0)
	}
	return append(out, commits), true
}

// olderThanRunning says why bundle m is older than the running firmware,
// or "" when it is not (or nothing tells).
func (in *Installer) olderThanRunning(m *Manifest) string {
	if c, ok := CompareVersions(m.Version, in.Current); ok {
		if c < 0 {
			return fmt.Sprintf("bundle version %s is older than the running version %s", m.Version, in.Current)
		}
		return ""
	}
	built := in.CurrentBuilt
	if built.IsZero() {
		built = imageBuilt()
	}
	if !built.IsZero() && !m.Created.IsZero() && m.Created.Before(built) {
		return fmt.Sprintf("bundle %s was built %s, before the running firmware %s (built %s)", m.Version,
			m.Created.UTC().Format(time.DateTime), in.Current, built.UTC().Format(time.DateTime))
	}
	return ""
}

// imageBuilt is the running image's own build time, which the image
// builder records in the initramfs: it decides where no confirmed update
// recorded a time, as on a freshly written disk, which would otherwise take
// any older bundle whose version is a bare git hash.
var imageBuilt = version.Built

// RunningBuilt is the signed build time of the firmware in slot, as
// recorded when its trial was confirmed; zero when it was not installed by
// an update (a freshly written disk) or the record is gone.
func (s Store) RunningBuilt(slot, version string) time.Time {
	ev := s.History()
	for i := len(ev) - 1; i >= 0; i-- {
		if e := ev[i]; e.Kind == EventConfirmed && e.Slot == slot {
			if e.Version == version {
				return e.Built
			}
			return time.Time{}
		}
	}
	return time.Time{}
}
