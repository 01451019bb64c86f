package gateway

import "time"

// fromBrowserForBench hands pkt to the call as the ICE port's reader does.
func fromBrowserForBench(c *call, pkt []byte, at time.Time) { c.fromBrowserFast(pkt, nil, at) }
