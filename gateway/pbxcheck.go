package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"edgebox/api/gatewayapi"
	"edgebox/internal/config"
	"edgebox/internal/localapi"

	"github.com/emiago/sipgo/sip"
)

// The SIP test button: one OPTIONS to the configured PBX, answered with
// the PBX's status line and the round trip, or the trunk check's kind and
// sentence when nothing usable came back.

// checkPBX sends the OPTIONS probe to the configured PBX.
func (s *Service) checkPBX(ctx context.Context) gatewayapi.PBXCheck {
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	if cfg.PBX.Address == "" {
		return gatewayapi.PBXCheck{Kind: TrunkFailed, Message: "no PBX address is set: enter it in the SIP trunk step"}
	}
	addr := cfg.PBX.HostPort()
	out := gatewayapi.PBXCheck{PBX: addr}
	reply, rtt, te := optionsExchange(ctx, cfg.PBX.Transport, addr)
	if te != nil {
		out.Kind, out.Message = te.kind, te.msg
		if te.kind == TrunkTimeout {
			out.Message = fmt.Sprintf("no answer from %s within %d s: check the PBX address, and that the PBX and any firewall let the box's SIP through", addr, int(probeWait.Seconds()))
		}
		return out
	}
	msg, err := sip.ParseMessage(reply)
	res, ok := msg.(*sip.Response)
	if err != nil || !ok {
		out.Kind, out.Message = TrunkFailed, fmt.Sprintf("something at %s answered, but not in SIP: check the PBX address and port", addr)
		return out
	}
	out.Answer = fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
	out.RTTMillis = float64(rtt.Microseconds()) / 1000
	if h := res.GetHeader("Server"); h != nil {
		out.Server = h.Value()
	} else if h := res.GetHeader("User-Agent"); h != nil {
		out.Server = h.Value()
	}
	if isOwnUA(res) || ownSIPPort(ctx, cfg, addr) {
		out.Kind, out.Message = TrunkSelf, fmt.Sprintf("%s is this box's own SIP port, not a PBX (it answered %s): enter the address of the PBX or its SIP proxy", addr, out.Answer)
		return out
	}
	// Any answer shows the PBX is there and speaks SIP; some refuse
	// OPTIONS (405) or want authentication, which is still an answer.
	out.OK = true
	out.Message = fmt.Sprintf("the PBX at %s answered %s in %.1f ms", addr, out.Answer, out.RTTMillis)
	return out
}

// ownSIPPort says whether addr is one of the box's own SIP listeners: an
// address of the box at a port the gateway listens on (its OPTIONS answer
// carries no Server header to tell it by).
func ownSIPPort(ctx context.Context, cfg config.Gateway, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ips, err := pbxResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 || !isOwnAddr(ips[0]) {
		return false
	}
	for _, l := range cfg.SIP.Listen {
		if _, p, err := net.SplitHostPort(l.Address); err == nil && p == port {
			return true
		}
	}
	return false
}

// pbxCheckAPI serves POST /v1/pbx-check.
func (s *Service) pbxCheckAPI(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/pbx-check", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.checkPBX(r.Context()))
	})
}
