package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
)

const (
	sdkJS  = "web/sdk/edgebox-call-1.js"
	sdkDTS = "web/sdk/edgebox-call-1.d.ts"
)

// typescriptDir returns node_modules/typescript of testdata/sdk's pinned
// typescript, which scripts/deps.sh (make deps) installs from its lockfile
// into the user's cache: tests reach no registry themselves.
func typescriptDir(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: make deps (scripts/deps.sh) installs nodejs and npm", tool)
		}
	}
	lock, err := os.ReadFile("testdata/sdk/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(cache, "edgebox-test", "typescript-"+hex.EncodeToString(sum[:6]), "node_modules", "typescript")
	if _, err := os.Stat(filepath.Join(ts, "package.json")); err != nil {
		t.Fatalf("the pinned typescript is not installed (%v): run make deps, which installs it from testdata/sdk's lockfile", err)
	}
	return ts
}

// tsc runs the pinned compiler in strict mode over files with the SDK's
// .d.ts, and returns its output and whether it accepted them.
func tsc(t *testing.T, ts string, files ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{filepath.Join(ts, "bin", "tsc"), "--noEmit", "--strict", "--target", "es2020", "--lib", "es2020,dom", sdkDTS}, files...)
	out, err := exec.CommandContext(ctx, "node", args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("tsc did not finish: %s", out)
	}
	return string(out), err == nil
}

// TestSDKTypes checks edgebox-call-1.d.ts for real: a page's use of the
// SDK compiles with tsc --strict, wrong uses do not, every public member
// and event of the real edgebox-call-1.js (loaded in node) is declared and
// nothing else is, the versions agree, and the error codes are the ones
// docs/gateway-protocol.md lists.
func TestSDKTypes(t *testing.T) {
	t.Parallel()
	ts := typescriptDir(t)

	if out, ok := tsc(t, ts, "testdata/sdk/example.ts"); !ok {
		t.Errorf("the example page code does not compile against the .d.ts:\n%s", out)
	}
	out, ok := tsc(t, ts, "testdata/sdk/bad.ts")
	if ok {
		t.Error("wrong uses of the SDK compiled: the .d.ts checks nothing")
	}
	src, _ := os.ReadFile("testdata/sdk/bad.ts")
	for i, line := range strings.Split(string(src), "\n") {
		if line != "" && !strings.HasPrefix(line, "//") && !strings.Contains(out, fmt.Sprintf("bad.ts(%d,", i+1)) {
			t.Errorf("tsc accepted bad.ts line %d: %s", i+1, line)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw, err := exec.CommandContext(ctx, "node", "testdata/sdk/check.js", ts, sdkJS, sdkDTS).CombinedOutput()
	if err != nil {
		t.Fatalf("check.js: %v\n%s", err, raw)
	}
	var res struct {
		Problems []string
		Version  string
		Events   []string
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("check.js: %v: %s", err, raw)
	}
	for _, p := range res.Problems {
		t.Error(p)
	}
	if res.Version != gateway.SDKVersion {
		t.Errorf("EdgeboxCall.version %q, gateway.SDKVersion %q", res.Version, gateway.SDKVersion)
	}

	// The SDK's events, progress events and error codes are the documented ones.
	doc, err := os.ReadFile("../docs/gateway-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(res.Events)
	if docEvents := docColumn(doc, "| event | `detail` | when |"); !slices.Equal(res.Events, docEvents) {
		t.Errorf("edgebox-call-1.js emits %v, docs/gateway-protocol.md (JavaScript SDK) lists %v", res.Events, docEvents)
	}
	if typed, docProgress := dtsUnion(t, "EdgeboxCallEventName"), docColumn(doc, "| event | SIP |"); !slices.Equal(typed, docProgress) {
		t.Errorf("EdgeboxCallEventName %v, documented events %v", typed, docProgress)
	}
	typed := dtsUnion(t, "EdgeboxErrorCode")
	docErrs, _ := protocolDoc(t)
	documented := []string{"client"} // the SDK's own
	for c := range docErrs {
		documented = append(documented, c)
	}
	slices.Sort(documented)
	if !slices.Equal(typed, documented) {
		t.Errorf("EdgeboxErrorCode %v, documented codes (and client) %v", typed, documented)
	}
}

// TestSDKServedVersioned: the box serves the SDK at its versioned path, the
// old unversioned one as an alias of it, and the types beside it.
func TestSDKServedVersioned(t *testing.T) {
	svc := startGateway(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))))
	js, _ := os.ReadFile(sdkJS)
	dts, _ := os.ReadFile(sdkDTS)
	for path, want := range map[string][]byte{
		"/sdk/edgebox-call-1.js":   js,
		"/sdk/edgebox-call.js":     js,
		"/sdk/edgebox-call-1.d.ts": dts,
		"/sdk/edgebox-call.d.ts":   dts,
	} {
		res, err := httpClient.Get(portalBase(svc) + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
			t.Errorf("GET %s: %d, %d bytes, want the %d bytes of the file", path, res.StatusCode, len(body), len(want))
		}
		ct := res.Header.Get("Content-Type")
		if strings.HasSuffix(path, ".js") && !strings.Contains(ct, "javascript") || strings.HasSuffix(path, ".ts") && !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
	}
}

// dtsUnion returns the sorted string literals of a union type of the .d.ts.
func dtsUnion(t *testing.T, name string) []string {
	t.Helper()
	dts, err := os.ReadFile(sdkDTS)
	if err != nil {
		t.Fatal(err)
	}
	union := regexp.MustCompile(`(?s)type ` + name + ` =(.*?);`).FindSubmatch(dts)
	if union == nil {
		t.Fatalf("no type %s in the .d.ts", name)
	}
	var out []string
	for _, m := range regexp.MustCompile(`"([a-z_]+)"`).FindAllSubmatch(union[1], -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return out
}

// docColumn returns the sorted `names` in the first column of the
// markdown table whose header line is header.
func docColumn(doc []byte, header string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(string(doc), "\n") {
		switch {
		case strings.HasPrefix(line, header):
			in = true
		case !strings.HasPrefix(line, "|"):
			in = false
		case in:
			first := strings.SplitN(strings.TrimPrefix(line, "|"), "|", 2)[0]
			for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(first, -1) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return out
}
