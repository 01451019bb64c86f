package web

import (
	"net/http"
	"time"
)

// A request body must arrive within a bound, or a client could hold a
// connection (a goroutine and a descriptor of web) for ever by sending
// its body a byte now and then: http.Server's ReadHeaderTimeout covers
// only the headers, and a global ReadTimeout would cut off a firmware
// upload over a slow VPN. So each request with a body gets a read
// deadline: bodyReadLimit for the API's small JSON bodies, and on the
// upload paths as long as the announced size takes at minUploadRate.
// Requests without a body get none: Go's server watches their connection
// with a background read, which a deadline would turn into a cancelled
// request. Once the body is read, the server clears the deadline itself.

var (
	bodyReadLimit = 30 * time.Second
	// minUploadRate is the slowest upload still waited for, in bytes per
	// second (128 kbit/s: a poor LTE uplink behind the VPN).
	minUploadRate int64 = 16 << 10
)

// bodyDeadline sets the read deadline of requests that carry a body.
func bodyDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			d := bodyReadLimit
			if uploadPaths[r.URL.Path] {
				n := r.ContentLength
				if n < 0 || n > MaxFirmware+1<<20 {
					n = MaxFirmware + 1<<20 // chunked: the largest upload there is
				}
				d += time.Duration(n/minUploadRate) * time.Second
			}
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}
