package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gobusybox builds the multi-call binary without inlining unless told
// (-gcflags=all=-l, for size): the box then ran slower code than the host
// build make bench measures. The binary's build settings say which.
func TestImageBuiltWithInlining(t *testing.T) {
	img := builtImage(t)
	archive := filepath.Join(filepath.Dir(img), "initramfs.cpio.gz")
	bb := filepath.Join(t.TempDir(), "bb")
	if out, err := exec.Command("sh", "-c", "zstd -dc "+archive+" | cpio -i --quiet --to-stdout bbin/bb > "+bb).CombinedOutput(); err != nil {
		t.Fatalf("extract bbin/bb from %s: %v\n%s", archive, err, out)
	}
	if fi, err := os.Stat(bb); err != nil || fi.Size() == 0 {
		t.Fatalf("no bbin/bb in %s", archive)
	}
	out, err := exec.Command("go", "version", "-m", bb).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "-buildmode=exe") {
		t.Fatalf("no build settings in the binary:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "-gcflags") && strings.Contains(line, "-l") {
			t.Errorf("the image's binary was built without inlining: %s", strings.TrimSpace(line))
		}
	}
}
