package gateway

import (
	"fmt"
	"slices"
	"strings"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/internal/config"

	"github.com/emiago/sipgo/sip"
)

// Which of netctl's modems holds which configured SIM (issue 19 item 5).
// netctl's GSM status lists every modem's SIM by slot ("mpcie1");
// gateway.gsm.sims[].slot names the same slots ("mpcie1" or "1"). The
// first SIM also takes a modem no SIM names: a data modem whose slot is
// unknown (a board without a USB map and no network.modem.slot), or a
// netctl that lists no SIMs, so one-SIM configs work as before.

// simModem is netctl's status of the modem holding config SIM i; false
// when netctl has no modem for it.
func simModem(g config.GatewayGSM, st netapi.GSMStatus, i int) (netapi.GSMSIMStatus, bool) {
	if i < 0 || i >= len(g.SIMs) {
		return netapi.GSMSIMStatus{}, false
	}
	sims := st.SIMs
	if len(sims) == 0 {
		sims = []netapi.GSMSIMStatus{st.GSMSIMStatus} // a netctl from before the SIM list
	}
	for _, m := range sims {
		if g.SIMs[i].InSlot(m.Slot) {
			return m, true
		}
	}
	if i != 0 {
		return netapi.GSMSIMStatus{}, false
	}
	// the default modem first (the data modem), then any other no SIM names
	cand := append([]netapi.GSMSIMStatus{st.GSMSIMStatus}, sims...)
	for _, m := range cand {
		if _, named := simNaming(g, m.Slot); !named {
			return m, true
		}
	}
	return netapi.GSMSIMStatus{}, false
}

// simNaming is the index of the SIM whose slot is slot.
func simNaming(g config.GatewayGSM, slot string) (int, bool) {
	for i, s := range g.SIMs {
		if s.InSlot(slot) {
			return i, true
		}
	}
	return -1, false
}

// simOfSlot is the config SIM of the modem in netctl's slot (an event's
// Slot): the SIM naming it, else the first SIM when it takes that modem;
// -1 for a modem no SIM is configured for.
func simOfSlot(g config.GatewayGSM, st netapi.GSMStatus, slot string) int {
	if slot == "" {
		// an event without a slot is the default modem's (a netctl from
		// before slots, or a data modem whose slot is unknown)
		slot = st.Slot
	}
	if i, ok := simNaming(g, slot); ok {
		return i
	}
	if m, ok := simModem(g, st, 0); ok && m.Slot == slot {
		return 0
	}
	if len(g.SIMs) > 0 && slot == "" {
		return 0
	}
	return -1
}

// pickOutbound chooses the SIM a call from the PBX to user goes out on:
// the first in gateway.gsm.sims whose voice allow-list lets the number,
// whose modem carries voice, that carries no call and is under its
// max_calls_per_day. The call returned is claimed and counted. When no
// SIM can take it, refuse answers the INVITE with the reason that
// matters most: a SIM that allows the number but is busy (503 No Free
// SIM, Q.850 cause 34: try again or another box) before one at its daily
// bound (403) before one without voice (503) before a codec mismatch
// (488); no SIM allowing it at all is 403 with each SIM's reason. An
// INVITE naming a slot (X-GSM-Slot or ;slot=, as a MESSAGE may) is tried
// on that SIM alone; a slot not configured is 404.
func (v *gsmVoice) pickOutbound(user string, req *sip.Request) (c *gsmVoiceCall, num string, ch mediaChoice, refuse func(sip.ServerTransaction, *sip.Request)) {
	var denied, noVoice, atLimit, codec []string
	busy := 0
	want := requestedSlot(req)
	if want != "" {
		if _, _, ok := v.cfg.GSM.SIM(want); !ok {
			return nil, "", mediaChoice{}, refuseWith(404, "No Such SIM Slot", []string{fmt.Sprintf("slot %q is not in gateway.gsm.sims", want)})
		}
	}
	for i := range v.cfg.GSM.SIMs {
		sim, m := v.sim(i)
		if want != "" && !sim.InSlot(want) {
			continue
		}
		n, err := sim.CheckDial(user, i)
		if err != nil {
			denied = append(denied, err.Error())
			continue
		}
		if !m.Voice {
			why := m.VoiceWhy
			if why == "" {
				why = "netctl has no modem in its slot"
			}
			noVoice = append(noVoice, fmt.Sprintf("SIM %s: the modem cannot carry voice: %s", sim.Slot, why))
			continue
		}
		choice, err := offerChoice(req, sim, v.cfg.PBX)
		if err != nil {
			codec = append(codec, err.Error())
			continue
		}
		call := v.newCall(gatewayapi.GSMOutbound, i)
		if !v.claim(call) {
			busy++
			v.log.Info("GSM dial: SIM busy, trying the next", "sim", sim.Slot, "number", user)
			continue
		}
		if !v.countDial(i, sim.Voice.MaxCallsPerDay) {
			v.unclaim(call)
			atLimit = append(atLimit, fmt.Sprintf("gateway.gsm.sims[%d].voice.max_calls_per_day (%d) reached for today", i, sim.Voice.MaxCallsPerDay))
			continue
		}
		if busy > 0 || len(atLimit) > 0 {
			v.log.Info("GSM dial on the next SIM that allows it", "sim", sim.Slot, "busy", busy, "at_limit", len(atLimit))
		}
		return call, n, choice, nil
	}
	v.log.Info("GSM dial refused", "number", user, "denied", denied, "busy", busy, "at_limit", atLimit, "no_voice", noVoice)
	switch {
	case busy > 0:
		// No free channel is this gateway's state, not the callee's: 503
		// with Q.850 cause 34 (RFC 3398), so a dispatcher in front of
		// several boxes tries the next one; 486 would end the call there.
		return nil, "", mediaChoice{}, func(tx sip.ServerTransaction, req *sip.Request) {
			res := sip.NewResponseFromRequest(req, 503, "No Free SIM", nil)
			res.AppendHeader(sip.NewHeader("Retry-After", "5"))
			res.AppendHeader(sip.NewHeader("Reason", `Q.850;cause=34;text="every SIM that may dial this number carries a call already (one call per SIM)"`))
			tx.Respond(res)
		}
	case len(atLimit) > 0:
		return nil, "", mediaChoice{}, refuseWith(403, "Forbidden", atLimit)
	case len(noVoice) > 0:
		return nil, "", mediaChoice{}, refuseWith(503, "Service Unavailable", noVoice)
	case len(codec) > 0:
		return nil, "", mediaChoice{}, refuseWith(488, "Not Acceptable Here", codec)
	}
	return nil, "", mediaChoice{}, refuseWith(403, "Forbidden", denied)
}

// refuseWith answers with code and every SIM's reason in words.
func refuseWith(code int, phrase string, why []string) func(sip.ServerTransaction, *sip.Request) {
	return func(tx sip.ServerTransaction, req *sip.Request) {
		refuseInvite(tx, req, code, phrase, strings.Join(slices.Compact(why), "; "))
	}
}

// unclaim frees a SIM claimed for a call that was never placed (it is
// not counted among the calls).
func (v *gsmVoice) unclaim(c *gsmVoiceCall) {
	v.mu.Lock()
	if v.simCalls[c.simIdx] == c {
		delete(v.simCalls, c.simIdx)
	}
	v.mu.Unlock()
	v.wg.Done()
}
