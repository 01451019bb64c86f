package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"edgebox/internal/config"

	"github.com/emiago/sipgo/sip"
)

// The trunk's keepalive ("qualify"): between two REGISTER refreshes, which
// can be minutes apart, the PBX may restart and forget the box's binding,
// and until the next refresh every call to the box fails while the status
// said "registered". As SIP phones do, the box sends an OPTIONS to its own
// address of record through the PBX every trunkKeepaliveEvery:
//   - no answer (from a PBX that answered keepalives before: some drop
//     OPTIONS): the PBX is down; the status says so at once, and when it
//     answers again the trunk registers again right away (a restarted PBX
//     has lost its registrations);
//   - 404/480/403, or 401/407 still after the digest: the registrar no longer
//     knows the box (a registrar proxy such as Kamailio or OpenSIPS looks
//     the address up): register again at once;
//   - anything else (200 relayed back from the box itself, 405, 503 ...):
//     the PBX is there.
//
// Some PBXs answer 404 for any user that is not a dialplan extension, even
// while the box is registered: a 404 right after a fresh registration means
// that, and from then on only silence counts.
var trunkKeepaliveEvery = 30 * time.Second

// keepaliveWait bounds one keepalive's wait for an answer.
const keepaliveWait = 5 * time.Second

// trunkKeepalive runs beside registerLoop until ctx ends; it signals
// r.lost when the trunk must register again now.
func (s *Service) trunkKeepalive(ctx context.Context, r *registration, st *sipStack, cfg config.Gateway, log *slog.Logger) {
	tick := time.NewTicker(trunkKeepaliveEvery)
	defer tick.Stop()
	addr := cfg.PBX.HostPort()
	var silentSince time.Time
	trust404 := true
	// answered: the PBX answered a keepalive once; one that never does
	// (drops OPTIONS) must not be shown as down every 30 s
	answered := false
	var lostAt time.Time // when a "not known" answer last sent the trunk registering again
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if r.state() != "registered" && silentSince.IsZero() {
			continue // registering or failing: registerLoop's own answers say why
		}
		code, err := st.qualify(ctx, cfg)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !answered {
				continue
			}
			if silentSince.IsZero() {
				silentSince = time.Now()
				log.Warn("trunk: the PBX stopped answering keepalives", "pbx", addr, "err", err)
			}
			r.set(trunkErr(TrunkTimeout, "the PBX at %s stopped answering (no answer to keepalives since %s UTC): calls to and from the PBX fail until it is back; the trunk registers again as soon as it answers",
				addr, silentSince.UTC().Format("15:04:05")).Error(), time.Time{})
			s.metrics.registered.Set(0)
			continue
		}
		answered = true
		if !silentSince.IsZero() {
			log.Info("trunk: the PBX answers again, registering again (it may have restarted and lost the registration)", "pbx", addr, "silent", time.Since(silentSince).Round(time.Second), "answer", code)
			silentSince = time.Time{}
			r.reregister("the PBX at " + addr + " answers again after a silence")
			continue
		}
		if trust404 && notKnown(code) {
			if !lostAt.IsZero() && time.Since(lostAt) < 3*trunkKeepaliveEvery {
				trust404 = false
				log.Info("trunk: the PBX answers keepalives with this code even right after registering; only silence is taken as a restart from now on", "pbx", addr, "answer", code)
				continue
			}
			lostAt = time.Now()
			log.Warn("trunk: the PBX no longer knows the box's registration (restarted?), registering again", "pbx", addr, "answer", code)
			r.reregister(fmt.Sprintf("the PBX at %s no longer had the trunk's registration (it answered %d)", addr, code))
		}
	}
}

// notKnown says whether an answer to the keepalive means the registrar
// does not know the box's address of record.
func notKnown(code int) bool {
	switch code {
	case 401, 403, 404, 407, 480:
		return true
	}
	return false
}

// reregister shows why the trunk is registering and wakes registerLoop.
func (r *registration) reregister(why string) {
	r.set("registering: "+why, time.Time{})
	select {
	case r.lost <- struct{}{}:
	default:
	}
}

// qualify sends one OPTIONS to the trunk's own address of record at the
// PBX, answering a digest challenge with the trunk's credentials, and
// returns the final answer's code (an error: no answer).
func (st *sipStack) qualify(ctx context.Context, cfg config.Gateway) (int, error) {
	cli, contact, err := st.endpoint(cfg.PBX.Transport)
	if err != nil {
		return 0, err
	}
	domain := cfg.PBX.Domain
	if domain == "" {
		domain, _, _ = net.SplitHostPort(cfg.PBX.HostPort())
	}
	aor := sip.Uri{Scheme: "sip", User: cfg.Trunk.Username, Host: domain}
	req := sip.NewRequest(sip.OPTIONS, aor)
	req.SetTransport(strings.ToUpper(cfg.PBX.Transport))
	req.SetDestination(st.pbxDest(cfg.PBX))
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("User-Agent", userAgentName))
	ctx, cancel := context.WithTimeout(ctx, keepaliveWait)
	defer cancel()
	return doAsTrunk(ctx, cli, req, cfg)
}
