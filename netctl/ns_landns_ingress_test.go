package netctl_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/dns/dnsmessage"

	"edgebox/internal/testenv"
)

// TestNamespaceLANDNSAnswersOnlyTheLAN: the LAN's DNS forwarder decides by
// the interface a query came in on, not by the address it was sent to.
// Here nothing filters (netctl --no-firewall) and a WAN neighbour routes
// the LAN's subnet over the WAN link (Linux's weak host model delivers
// such packets): before the fix the box answered it, an open resolver
// for whoever sits on the uplink. The LAN client is still answered.
// The same over TCP (the forwarder's TCP side, for truncated answers).
func TestNamespaceLANDNSAnswersOnlyTheLAN(t *testing.T) {
	t.Parallel()
	r := newRig(t, "dn")
	r.writeConfig(staticConfig(boxWANAddr + "/24"))
	r.routeLANOverWAN()
	r.netctlArgs = []string{"--no-firewall"}
	r.startNetctl()
	query := func(from string) error {
		ns := r.inetNS
		if from == "lan" {
			ns = r.lanNS
		}
		var c net.Conn
		if err := testenv.DoInHandle(ns, func() error {
			var err error
			c, err = net.Dial("udp4", lanBoxAddr+":53")
			return err
		}); err != nil {
			return err
		}
		defer c.Close()
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("edgebox.lan."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		q, _ := b.Finish()
		buf := make([]byte, 1500)
		for range 3 {
			c.Write(q)
			c.SetReadDeadline(time.Now().Add(time.Second))
			if n, err := c.Read(buf); err == nil && n > 0 {
				return nil
			}
		}
		return fmt.Errorf("no answer")
	}
	r.waitFor("the LAN's DNS answers the LAN", 20*time.Second, func() (bool, string) {
		err := query("lan")
		return err == nil, fmt.Sprint(err)
	})
	if err := query("wan"); err == nil {
		t.Error("a WAN neighbour's query to the LAN address was answered, want no answer")
	}
	queryTCP := func(ns netns.NsHandle) error {
		return testenv.DoInHandle(ns, func() error {
			c, err := net.DialTimeout("tcp4", lanBoxAddr+":53", 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 8, RecursionDesired: true})
			b.StartQuestions()
			b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("edgebox.lan."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
			q, _ := b.Finish()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write(append([]byte{byte(len(q) >> 8), byte(len(q))}, q...)); err != nil {
				return err
			}
			_, err = c.Read(make([]byte, 2))
			return err
		})
	}
	if err := queryTCP(r.lanNS); err != nil {
		t.Errorf("the LAN client over TCP: %v", err)
	}
	if err := queryTCP(r.inetNS); err == nil {
		t.Error("a WAN neighbour's TCP query to the LAN address was answered, want no answer")
	}
}
