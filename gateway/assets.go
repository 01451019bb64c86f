package gateway

import (
	"embed"
	"io/fs"
	"net/http"
)

// The JavaScript SDK and the demo "Get help" page, served by the box.
//
//go:embed web
var webFS embed.FS

func assetHandler() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err)
	}
	return http.FileServerFS(sub)
}
