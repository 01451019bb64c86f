package gateway

import (
	"context"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// What an answered call keeps of its SIP dialog toward the PBX.
//
// sipgo's DialogClientSession holds the whole INVITE, the PBX's whole 200
// (headers parsed, SDP) and an ACK template, through its INVITE
// transaction, for as long as the session is referenced: about 6 KB of
// an established call's ~24 (heap profile of TestCallFootprint). The
// transaction needs them for RFC 6026's accepted window (sip.Timer_M,
// 32 s after the 200): it answers the PBX's retransmitted 200s with the
// ACK again, and sipgo ends the session when that fails. After the window
// the transaction is gone from sipgo's layer and the call needs only the
// dialog's identifiers (Call-ID, both tags, its CSeq), the route set and
// the remote target: for its BYE, the NOTIFYs of a transfer and the tags
// a BYE from the PBX is checked against. So the call then swaps the
// session for a slim one holding only those.

// acceptedWindow is how long after the answer the call keeps sipgo's
// whole session: RFC 6026's Timer M, as sipgo's transaction layer runs it.
func acceptedWindow() time.Duration { return sip.Timer_M }

// slimDialog is d's dialog with only what the call needs after the
// accepted window: a session of its own whose INVITE and 200 carry the
// dialog's headers and no bodies. It has no INVITE transaction, so
// sipgo's Bye and ReadBye are not for it (they end that transaction):
// the call sends and answers BYEs with byeDialog and answerBye.
func slimDialog(d *sipgo.DialogClientSession) *sipgo.DialogClientSession {
	inv, res := d.InviteRequest, d.InviteResponse
	req := sip.NewRequest(sip.INVITE, inv.Recipient)
	req.SipVersion = inv.SipVersion
	if h := inv.From(); h != nil {
		req.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.CallID(); h != nil {
		req.AppendHeader(sip.HeaderClone(h))
	}
	// the dialog's CSeq goes on from the last request the session sent
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.CSEQ(), MethodName: sip.INVITE})
	if h := inv.Contact(); h != nil {
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.SetTransport(inv.Transport())
	req.SetSource(inv.Source())
	req.Laddr = inv.Laddr

	ok := sip.NewResponse(res.StatusCode, res.Reason)
	ok.SipVersion = res.SipVersion
	if h := res.To(); h != nil {
		ok.AppendHeader(sip.HeaderClone(h))
	}
	if h := res.Contact(); h != nil {
		ok.AppendHeader(sip.HeaderClone(h))
	}
	// the route set, in the 200's order (sipgo reverses it per request)
	for _, h := range res.GetHeaders("Record-Route") {
		ok.AppendHeader(sip.HeaderClone(h))
	}
	ok.SetSource(res.Source()) // where RewriteContact sends
	ok.SetTransport(res.Transport())

	s := &sipgo.DialogClientSession{
		Dialog: sipgo.Dialog{ID: d.ID, InviteRequest: req, InviteResponse: ok},
		UA:     d.UA,
	}
	s.InitWithState(sip.DialogStateConfirmed)
	return s
}

// byeDialog ends an answered dialog from the box's side: sipgo's Bye on a
// whole session, the same BYE through Do on a slim one (a BYE to the
// remote target; Do adds the dialog's From, To, Call-ID, next CSeq and
// Route set, as Bye does).
func byeDialog(ctx context.Context, d *sipgo.DialogClientSession, slim bool) error {
	if !slim {
		return d.Bye(ctx)
	}
	target := d.InviteRequest.Recipient
	if h := d.InviteResponse.Contact(); h != nil {
		target = h.Address
	}
	bye := sip.NewRequest(sip.BYE, *target.Clone())
	bye.SipVersion = d.InviteRequest.SipVersion
	bye.SetTransport(d.InviteRequest.Transport())
	bye.SetSource(d.InviteRequest.Source())
	res, err := d.Do(ctx, bye)
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return sipgo.ErrDialogResponse{Res: res}
	}
	return nil
}

// answerBye answers the PBX's BYE in an answered dialog (sipgo's ReadBye
// on a whole session, which also ends its INVITE transaction).
func answerBye(d *sipgo.DialogClientSession, slim bool, r pbxRequest) {
	if d != nil && !slim {
		d.ReadBye(r.req, r.tx)
		return
	}
	r.tx.Respond(sip.NewResponseFromRequest(r.req, 200, "OK", nil))
}

// keepDialog makes d the call's dialog once the PBX answered it (run
// goroutine): the whole session until the accepted window ends, then
// slimDialog's (talk swaps it when slimAt fires).
func (c *call) keepDialog(d *sipgo.DialogClientSession) {
	c.dialog, c.dialogSlim = d, false
	c.dialogEnd = d.Context().Done()
	if c.slimAt != nil {
		c.slimAt.Stop()
	}
	c.slimAt = time.NewTimer(acceptedWindow())
}

// slimDown swaps the call's whole session for its slim one (run
// goroutine), when the accepted window is over.
func (c *call) slimDown() {
	c.slimAt = nil
	if c.dialog == nil || c.dialogSlim {
		return
	}
	c.dialog, c.dialogSlim = slimDialog(c.dialog), true
	// sipgo ends only the whole session (its ACK retransmission failing),
	// and only within the window
	c.dialogEnd = nil
	c.svc.dialogsSlimmed.Add(1)
}

// slimC is the timer channel of the accepted window, nil once it ended.
func (c *call) slimC() <-chan time.Time {
	if c.slimAt == nil {
		return nil
	}
	return c.slimAt.C
}
