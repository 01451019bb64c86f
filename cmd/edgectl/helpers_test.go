package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"edgebox/internal/localapi"
	"edgebox/internal/testenv"
)

// buildCmd builds edgebox/cmd/NAME into dir and returns the binary's path:
// the tests run the real edgectl and web as a person would.
func buildCmd(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, "edgebox/cmd/"+name).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return bin
}

// serveFake answers m on the unix socket run/sock (a fake netctl or init)
// until the test ends.
func serveFake(t *testing.T, run, sock string, m *http.ServeMux) {
	t.Helper()
	l, err := localapi.ListenPath(filepath.Join(run, sock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go localapi.Serve(ctx, l, m)
}

// startWeb runs the web binary under dir (run/ and perm/) with m as the
// fake init, and returns its addresses and the certificate fingerprint it
// printed. The process is killed when the test ends.
func startWeb(t *testing.T, webBin, dir string, m *http.ServeMux) (httpAddr, httpsAddr, fp string) {
	t.Helper()
	run := filepath.Join(dir, "run")
	serveFake(t, run, "init.sock", m)
	httpAddr, httpsAddr = testenv.FreeAddr(t), testenv.FreeAddr(t)
	cmd := exec.Command(webBin, "--http", httpAddr, "--https", httpsAddr, "--board-lan=false")
	cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+run, "EDGEBOX_PERM_DIR="+filepath.Join(dir, "perm"))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	fpRe := regexp.MustCompile(`fingerprint ([0-9A-F:]{95})`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := fpRe.FindStringSubmatch(sc.Text()); m != nil {
			fp = m[1]
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if fp == "" {
		t.Fatal("web printed no fingerprint")
	}
	return httpAddr, httpsAddr, fp
}
