package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/config"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// registration keeps the trunk registered at the PBX: REGISTER with digest
// auth, refreshed before it expires, retried with backoff after failures,
// removed (Expires: 0) when stopped.
type registration struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	st     string
	until  time.Time
	lost   chan struct{} // the keepalive found the PBX forgot the box: register now (trunkalive.go)
	addrs  pbxAddrState  // which of the PBX's addresses answers (pbxaddrs.go)
}

func (r *registration) state() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// status is the state and, while registered, when the granted lifetime ends.
func (r *registration) status() (string, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st, r.until
}

func (r *registration) set(st string, until time.Time) {
	r.mu.Lock()
	r.st, r.until = st, until
	r.mu.Unlock()
}

func (r *registration) stop() {
	r.cancel()
	<-r.done
}

func (s *Service) startRegistration(cfg config.Gateway) {
	s.mu.Lock()
	st := s.sip
	s.mu.Unlock()
	if !cfg.Trunk.Register || st == nil {
		s.metrics.registered.Set(0)
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &registration{cancel: cancel, done: make(chan struct{}), st: "registering", lost: make(chan struct{}, 1)}
	s.mu.Lock()
	s.reg = r
	s.mu.Unlock()
	go func() {
		defer close(r.done)
		s.registerLoop(ctx, r, st, cfg)
	}()
}

func (s *Service) registerLoop(ctx context.Context, r *registration, st *sipStack, cfg config.Gateway) {
	log := s.log.With("part", "register")
	callID := sip.CallIDHeader(sip.GenerateTagN(24))
	var cseq uint32 = 1
	expires := cfg.Trunk.RegisterExpiresSec
	if expires == 0 {
		expires = 300
	}
	failures := 0
	// the Contact the registrar holds for the box: when the uplink moves,
	// the next REGISTER drops it (expires=0) while binding the new one
	var bound *sip.ContactHeader
	if err := cfg.PBXIsTheBox(); err != nil {
		// no REGISTER to itself: it would be answered 405 by this very box
		_, msg, _ := strings.Cut(err.Error(), ": ")
		r.set(trunkErr(TrunkSelf, "%s", msg).Error(), time.Time{})
		log.Warn("trunk registration not attempted", "err", err)
		<-ctx.Done()
		r.set("off", time.Time{})
		return
	}
	alive := make(chan struct{})
	go func() {
		defer close(alive)
		s.trunkKeepalive(ctx, r, st, cfg, log)
	}()
	defer func() { <-alive }()
	for {
		got, err := s.registerTargets(ctx, r, st, cfg, callID, &cseq, &expires, &bound, log)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			var te *trunkError
			if !errors.As(err, &te) {
				te = trunkErr(TrunkFailed, "%v", err)
			}
			wait = min(time.Duration(1<<min(failures-1, 6))*5*time.Second, 5*time.Minute)
			if te.retryAfter > wait {
				// the PBX said when to come back (503 Retry-After): asking
				// sooner only adds to its load
				wait = te.retryAfter
				te = trunkErr(te.kind, "%s; the PBX asked the box to wait %d s: next attempt at %s UTC", te.msg, int(wait/time.Second), time.Now().Add(wait).UTC().Format("15:04:05"))
			}
			r.set(te.Error(), time.Time{})
			s.metrics.registered.Set(0)
			log.Warn("trunk registration failed", "err", err, "attempt", failures, "next_in", wait.Round(time.Second))
		} else {
			failures = 0
			r.set("registered", time.Now().Add(time.Duration(got)*time.Second))
			s.metrics.registered.Set(1)
			wait = max(time.Duration(got)*time.Second*8/10, 5*time.Second)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			continue
		case <-st.moved:
			continue // the uplink moved: bind the new address now
		case <-r.lost:
			continue // the PBX restarted or forgot the box: register now
		}
		break
	}
	s.metrics.registered.Set(0)
	if bound != nil {
		uctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if cli, _, err := st.endpoint(cfg.PBX.Transport); err == nil {
			at, _ := r.addrs.get()
			st.register(uctx, cli, cfgAt(cfg, at), callID, &cseq, *bound, nil, 0)
		}
		cancel()
	}
	r.set("off", time.Time{})
}

// registerTargets registers at the first of the PBX's addresses that
// answers, the one that answered last first (pbxaddrs.go), and keeps in
// r which one it was and which did not answer. An address that answers,
// even with a refusal, ends the search: it is the PBX speaking.
func (s *Service) registerTargets(ctx context.Context, r *registration, st *sipStack, cfg config.Gateway, callID sip.CallIDHeader, cseq *uint32, expires *int, bound **sip.ContactHeader, log *slog.Logger) (int, error) {
	targets := pbxTargets(ctx, cfg.PBX)
	if len(cfg.PBX.AllowedSources) == 0 {
		// the name may point elsewhere now: calls from there are the PBX's
		st.filter.allowMore(prefixesOf(targets))
	}
	last, _ := r.addrs.get()
	targets = orderTargets(targets, last)
	var failed []string
	for i, dest := range targets {
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if i < len(targets)-1 {
			tctx, cancel = context.WithTimeout(ctx, pbxTryWait)
		}
		got, err := st.registerAt(tctx, cfgAt(cfg, dest), callID, cseq, expires, bound, log)
		silent := tctx.Err() != nil
		cancel()
		if err == nil {
			if len(failed) > 0 || (last != "" && last != dest) {
				log.Info("trunk: registered at this address of the PBX", "pbx", cfg.PBX.HostPort(), "address", dest, "passed_over", failed)
			}
			r.addrs.set(dest, failed)
			return got, nil
		}
		if ctx.Err() != nil {
			return 0, err
		}
		var te *trunkError
		switch {
		case silent:
			failed = append(failed, fmt.Sprintf("%s: no answer within %d s", dest, int(pbxTryWait/time.Second)))
		case errors.As(err, &te) && te.noAnswer:
			failed = append(failed, dest+": "+te.kind)
		default:
			r.addrs.set(dest, failed) // it answered: the PBX is there
			return 0, err
		}
		if i < len(targets)-1 {
			log.Warn("trunk: the PBX does not answer at this address, trying its next", "pbx", cfg.PBX.HostPort(), "address", dest, "next", targets[i+1], "err", err)
			continue
		}
		r.addrs.set("", failed)
		if te == nil {
			te = trunkErr(TrunkTimeout, "the PBX at %s does not answer", dest)
		}
		if len(targets) > 1 {
			return 0, trunkErr(te.kind, "%s (none of the %d addresses of %s answered: %s)", te.msg, len(targets), cfg.PBX.HostPort(), strings.Join(failed, "; "))
		}
		return 0, err
	}
	return 0, trunkErr(TrunkUnreachable, "no address for the PBX at %s", cfg.PBX.HostPort())
}

// cfgAt is cfg with its requests sent to dest, one address of the PBX's
// name (the name stays in the request URIs); cfg itself for "" or the
// configured address.
func cfgAt(cfg config.Gateway, dest string) config.Gateway {
	if dest == "" || dest == cfg.PBX.HostPort() {
		return cfg
	}
	if cfg.PBX.Domain == "" {
		cfg.PBX.Domain, _, _ = net.SplitHostPort(cfg.PBX.HostPort())
	}
	cfg.PBX.Address = dest
	return cfg
}

// registerAt registers the box's current Contact, dropping *bound if the
// box has moved off it, and on success points *bound at what it registered.
func (st *sipStack) registerAt(ctx context.Context, cfg config.Gateway, callID sip.CallIDHeader, cseq *uint32, expires *int, bound **sip.ContactHeader, log *slog.Logger) (int, error) {
	cli, contact, err := st.endpoint(cfg.PBX.Transport)
	if err != nil {
		return 0, err
	}
	contact.Address.User = cfg.Trunk.Username
	var drop *sip.ContactHeader
	if b := *bound; b != nil && b.Address.String() != contact.Address.String() {
		drop = b
		log.Info("trunk: the box's address toward the PBX moved, registering the new one", "from", b.Address.Host, "to", contact.Address.Host)
	}
	got, err := st.register(ctx, cli, cfg, callID, cseq, contact, drop, *expires)
	var short *intervalTooBrief
	if errors.As(err, &short) {
		// 423: the registrar wants longer registrations; ask for its
		// minimum from now on (RFC 3261 10.2.8)
		log.Info("trunk: the PBX wants registrations of at least its minimum (423 Interval Too Brief), asking for that", "asked", *expires, "min_expires", short.min)
		*expires = short.min
		got, err = st.register(ctx, cli, cfg, callID, cseq, contact, drop, *expires)
		if errors.As(err, &short) {
			err = trunkErr(TrunkFailed, "the PBX at %s answered 423 Interval Too Brief again when asked for its own Min-Expires %d s: check the registration settings of this trunk at the PBX", cfg.PBX.HostPort(), short.min)
		}
	}
	if err == nil {
		*bound = &contact
	}
	return got, err
}

// register sends one REGISTER binding contact (and removing drop, an
// earlier binding of the box, in the same request), answering a digest
// challenge, and returns the lifetime the registrar granted.
func (st *sipStack) register(ctx context.Context, cli *sipgo.Client, cfg config.Gateway, callID sip.CallIDHeader, cseq *uint32, contact sip.ContactHeader, drop *sip.ContactHeader, expires int) (int, error) {
	domain := cfg.PBX.Domain
	if domain == "" {
		domain, _, _ = net.SplitHostPort(cfg.PBX.HostPort())
	}
	aor := sip.Uri{Scheme: "sip", User: cfg.Trunk.Username, Host: domain}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: domain})
	req.SetTransport(strings.ToUpper(cfg.PBX.Transport))
	req.SetDestination(cfg.PBX.HostPort())
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	id := callID
	req.AppendHeader(&id)
	*cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: *cseq, MethodName: sip.REGISTER})
	req.AppendHeader(&contact)
	if drop != nil {
		d := sip.ContactHeader{Address: drop.Address, Params: sip.NewParams()}
		d.Params.Add("expires", "0")
		req.AppendHeader(&d)
	}
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	req.AppendHeader(sip.NewHeader("User-Agent", userAgentName))
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, req)
	if err != nil {
		if parent.Err() != nil {
			return 0, err
		}
		return 0, noAnswerError(parent, cfg, err)
	}
	authed := false
	if res.StatusCode == 401 || res.StatusCode == 407 {
		if cfg.Trunk.Password == "" {
			return 0, trunkErr(TrunkRejected, "the PBX at %s asks for a password (%d) and the trunk password is empty: enter it", cfg.PBX.HostPort(), res.StatusCode)
		}
		res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: cfg.Trunk.Username, Password: cfg.Trunk.Password})
		if err != nil {
			if parent.Err() != nil {
				return 0, err
			}
			return 0, noAnswerError(parent, cfg, err)
		}
		*cseq = req.CSeq().SeqNo
		authed = true
	}
	if res.StatusCode == 423 && expires > 0 {
		if m, ok := minExpires(res, expires); ok {
			return 0, &intervalTooBrief{min: m}
		}
	}
	if res.StatusCode != 200 {
		return 0, answerError(cfg, res, authed)
	}
	got := grantedExpires(res, contact, expires)
	st.log.Debug("registered", "expires", got)
	return got, nil
}

// doAsTrunk sends an out-of-dialog request toward the PBX and answers its
// digest challenge with the trunk's credentials; it returns the final status.
func doAsTrunk(ctx context.Context, cli *sipgo.Client, req *sip.Request, cfg config.Gateway) (int, error) {
	res, err := cli.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	if (res.StatusCode == 401 || res.StatusCode == 407) && cfg.Trunk.Password != "" {
		res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: cfg.Trunk.Username, Password: cfg.Trunk.Password})
		if err != nil {
			return 0, err
		}
	}
	return res.StatusCode, nil
}
