// Command web is the box's web UI and admin REST API service. See package
// web; the skeleton (internal/service) runs it.
package main

import (
	"edgebox/internal/service"
	"edgebox/web"
)

func main() { service.Main(web.ServiceSpec()) }
