package image

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildTagsLeaveOutProfiler: with the image's build tags no command
// of the multi-call binary links net/http/pprof (every service maps
// nearly the whole binary, so what one links costs all of them); without
// them the gateway does (make bench profiles a host build).
func TestBuildTagsLeaveOutProfiler(t *testing.T) {
	deps := func(tags ...string) string {
		args := []string{"list", "-deps"}
		if len(tags) > 0 {
			args = append(args, "-tags="+strings.Join(tags, ","))
		}
		for _, c := range append(Commands, InitCommand) {
			args = append(args, "edgebox/"+c)
		}
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return "\n" + string(out)
	}
	if !strings.Contains(deps(), "\nnet/http/pprof\n") {
		t.Fatal("a host build links no net/http/pprof: the gateway's EDGEBOX_PPROF profiler is gone (make bench reads it)")
	}
	got := deps(BuildTags...)
	for _, p := range []string{"net/http/pprof", "runtime/pprof", "runtime/trace"} {
		if strings.Contains(got, "\n"+p+"\n") {
			t.Errorf("the image's build (tags %v) links %s", BuildTags, p)
		}
	}
}

// TestImageHasNoProfiler looks in the built image's multi-call binary:
// mkuimage got the build tags (its -go-build-tags, used both to load and
// to compile the packages).
func TestImageHasNoProfiler(t *testing.T) {
	img := builtImage(t)
	archive := filepath.Join(filepath.Dir(img), "initramfs.cpio.gz")
	bin, err := exec.Command("sh", "-c", "zstd -dc "+archive+" | cpio -i --quiet --to-stdout bbin/bb").Output()
	if err != nil || len(bin) == 0 {
		t.Fatalf("extract bbin/bb from %s: %v", archive, err)
	}
	if bytes.Contains(bin, []byte("net/http/pprof.")) {
		t.Error("the image's binary has net/http/pprof's functions: built without image.BuildTags")
	}
}
