package web

import (
	"context"
	"flag"
	"net/http"
	"strings"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/service"
	"edgebox/internal/version"
)

// ServiceSpec is web as a box service (cmd/web). A config that does not
// load at start leaves web on the defaults rather than down, and its socket
// is optional: the admin must keep a way in to repair the box.
func ServiceSpec() service.Spec {
	var opt Options
	var ifaces string
	return service.Spec{
		Name:              "web",
		StopTime:          5 * time.Second, // Serve's shutdown waits 3 s for requests
		StartWithDefaults: true,
		SocketOptional:    true, // edgectl on the box then needs a token; the UI still works
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&opt.HTTPAddr, "http", ":80", "plain HTTP listen address (LAN bootstrap, JSON API)")
			fs.StringVar(&opt.HTTPSAddr, "https", ":443", "HTTPS listen address")
			fs.StringVar(&opt.SecretsDir, "secrets", "", "secrets directory (default: the box's)")
			fs.StringVar(&ifaces, "interfaces", "", "comma-separated interface patterns to answer on (default: config web.interfaces)")
			fs.BoolVar(&opt.BoardLAN, "board-lan", true, "also answer on the board profile's LAN ports")
		},
		Start: func(ctx context.Context, env service.Env, cfg *config.Config) (service.Service, error) {
			o := opt
			o.Version = version.String() // written into the image by mkimage
			if ifaces != "" {
				o.Interfaces = strings.Split(ifaces, ",")
			}
			o.ConfigPath, o.Config, o.Log = env.ConfigPath, cfg, env.Log
			s, err := New(o)
			if err != nil {
				return nil, err
			}
			return asService{s}, nil
		},
	}
}

// asService is the Server as the skeleton runs it.
type asService struct{ *Server }

func (s asService) Handler() http.Handler { return s.SocketHandler() }
