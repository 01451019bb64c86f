package gateway

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The JavaScript SDK and the demo "Get help" page, served by the box.
//
//go:embed web
var webFS embed.FS

// SDKVersion is the version of web/sdk/edgebox-call-1.js (its
// EdgeboxCall.version). The file name carries the major version: a
// change that breaks pages gets edgebox-call-2.js, and -1 stays.
const SDKVersion = "1.3.0"

// sdkAliases: the unversioned names pages used before the SDK had
// versions; they serve the current major version.
var sdkAliases = map[string]string{
	"/sdk/edgebox-call.js":   "/sdk/edgebox-call-1.js",
	"/sdk/edgebox-call.d.ts": "/sdk/edgebox-call-1.d.ts",
}

func assetHandler() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to, ok := sdkAliases[r.URL.Path]; ok {
			r2 := r.Clone(r.Context())
			r2.URL.Path = to
			r = r2
		}
		if strings.HasSuffix(r.URL.Path, ".d.ts") {
			// not video/mp2t, which the .ts extension maps to
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	})
}
