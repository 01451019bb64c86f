package netctl

import (
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Short names in the VPN's domains: the office's PCs resolve "pbx" as
// pbx.corp.example, because the pushed DOMAIN is their search domain, and
// a remote admin's config may name the PBX so. The box's own forwarder
// (127.0.0.53) does the same for a single-label name while the VPN's DNS
// is in force: it asks the VPN's servers for the name in each search
// domain in turn and answers under the short name. resolv.conf gets no
// search line: with one, a resolver also tries every name that failed
// (www.example.org with the uplink down) in the company's domain, and
// the company's DNS saw the box's public names (TestQEMUOpenVPN).

// setSearch sets the search domains (nil: none).
func (d *lanDNS) setSearch(domains []string) {
	if len(domains) == 0 {
		d.search.Store(nil)
		return
	}
	c := append([]string(nil), domains...)
	d.search.Store(&c)
}

// forwardShort forwards q, a single-label name in the search domains,
// else as it is; SERVFAIL when no server answered.
func (d *lanDNS) forwardShort(q []byte, exchange exchangeFunc, timeout time.Duration) []byte {
	var m dnsmessage.Message
	search := d.search.Load()
	if search != nil && m.Unpack(q) == nil && len(m.Questions) == 1 && singleLabel(m.Questions[0].Name.String()) {
		short := m.Questions[0].Name
		var reply []byte
		for _, dom := range *search {
			long, err := dnsmessage.NewName(short.String() + dom + ".")
			if err != nil {
				continue
			}
			m.Questions[0].Name = long
			lq, err := m.Pack()
			if err != nil {
				continue
			}
			if reply = d.forwardWith(lq, exchange, timeout); found(reply) {
				break
			}
		}
		if reply != nil {
			if out, ok := underName(reply, short); ok {
				return out
			}
		}
		return servfail(q)
	}
	if reply := d.forwardWith(q, exchange, timeout); reply != nil {
		return reply
	}
	return servfail(q)
}

// singleLabel reports a name of one label ("pbx."), not the root.
func singleLabel(name string) bool {
	name = strings.TrimSuffix(name, ".")
	return name != "" && !strings.Contains(name, ".")
}

// found reports an answer that is not "no such name".
func found(reply []byte) bool {
	var p dnsmessage.Parser
	h, err := p.Start(reply)
	return err == nil && h.RCode != dnsmessage.RCodeNameError
}

// underName is reply with its question, and the answers for it, under
// short: the client asked for short and takes only answers to that.
func underName(reply []byte, short dnsmessage.Name) ([]byte, bool) {
	var m dnsmessage.Message
	if m.Unpack(reply) != nil || len(m.Questions) != 1 {
		return nil, false
	}
	long := m.Questions[0].Name
	m.Questions[0].Name = short
	for i := range m.Answers {
		if strings.EqualFold(m.Answers[i].Header.Name.String(), long.String()) {
			m.Answers[i].Header.Name = short
		}
	}
	out, err := m.Pack()
	return out, err == nil
}
