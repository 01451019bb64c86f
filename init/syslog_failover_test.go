package main

import (
	"net"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestRemoteLogTCPAcrossADeadPath is a failover as the box lives it: the
// path to the collector dies (its link goes down: what the box writes is
// taken by its kernel and goes nowhere), the collector's end of the
// connection is gone when the path comes back, and lines are said all
// along. Over UDP, or over TCP with a line done once written, the lines
// of the outage are lost; here every line arrives.
func TestRemoteLogTCPAcrossADeadPath(t *testing.T) {
	box := testenv.NewNetns(t, testenv.UniqueName("slbox"))
	logs := testenv.NewNetns(t, testenv.UniqueName("sllog"))
	box.Veth("box0", "198.18.40.1/24", logs, "logs0", "198.18.40.2/24")
	const addr = "198.18.40.2:5514"
	listen := func() net.Listener {
		var ln net.Listener
		if err := logs.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
			t.Fatal(err)
		}
		return ln
	}
	col1 := newTCPCollector(t, listen())
	r := newRemoteLog("box")
	r.dialTCP = testenv.DialIn(box.Name)
	t.Cleanup(func() { r.Close(0) })
	if err := r.SetTarget("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	say, said := lineSayer(r)
	say(50)
	testenv.WaitFor(t, 30*time.Second, "the first lines", testenv.Cond(func() bool { return len(col1.got()) >= 50 }))

	logs.IP("link", "set", "logs0", "down") // the path dies
	say(30)
	time.Sleep(500 * time.Millisecond)
	col1.Stop() // its FIN cannot reach the box; its socket answers RST later
	col2 := newTCPCollector(t, listen())
	say(30)
	time.Sleep(time.Second)
	logs.IP("link", "set", "logs0", "up") // the new path
	say(30)
	testenv.WaitFor(t, 60*time.Second, "every line at one of the two collectors", testenv.Cond(func() bool {
		return len(missing(seqsOf(col1.got(), col2.got()), said())) == 0
	}))
	t.Logf("%d lines said, %d at the first collector, %d at the second", said(), len(col1.got()), len(col2.got()))
}
