package netctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/clock"
	"edgebox/internal/localapi"
	"edgebox/internal/version"
)

// timeSync keeps the box's clock on system.ntp (else on the NTP servers
// the active uplink's DHCP server gave): at start, whenever the
// uplink moves, after a change of the servers, and every hour; after a
// failure sooner, backing off to ntpRetryMax. A clock off by more than
// ntpStep is stepped, and the board's RTC written, so the next boot starts
// right even without a network. Before this nothing read system.ntp: the
// wizard's "check the NTP servers" led nowhere, and a box with a flat RTC
// stayed in the past (its VPN refusing the server's certificate).
type timeSync struct {
	log *slog.Logger
	now func() time.Time
	set func(time.Time) error // steps the clock (clock.Set with the RTC)
	// built is the running firmware's build time: no answer sets the
	// clock before it (clock.Plausible).
	built func() time.Time
	kick  chan struct{}

	mu      sync.Mutex
	servers []string
	uplink  []string // the active uplink's DHCP NTP servers (option 42)
	st      TimeSyncStatus

	hadSync bool          // a sync succeeded since start or the last change of servers
	pending time.Duration // a large step waiting for confirmation
	agreed  int           // answers in a row that agreed on pending
}

// TimeSyncStatus is GET /v1/time on netctl's socket.
type TimeSyncStatus = netapi.TimeSync

const (
	ntpStep     = 500 * time.Millisecond
	ntpPoll     = time.Hour
	ntpRetry    = 10 * time.Second
	ntpRetryMax = 10 * time.Minute
	ntpTimeout  = 3 * time.Second

	// After a sync, a step of more than ntpMaxChange is taken only when
	// ntpConfirm answers in a row agree on it within ntpAgree: plain NTP
	// is not authenticated, and one answer from a moment on the path
	// should not expire every token at once, nor bring expired ones back.
	ntpMaxChange = 1000 * time.Second
	ntpConfirm   = 3
	ntpAgree     = 2 * time.Second
)

func newTimeSync(servers []string, log *slog.Logger) *timeSync {
	return &timeSync{log: log, now: time.Now, kick: make(chan struct{}, 1), servers: slices.Clone(servers), built: version.Built,
		set: func(t time.Time) error { return clock.Set(t, clock.RTC) }}
}

// SetServers applies system.ntp; a change is tried at once.
func (ts *timeSync) SetServers(servers []string) {
	ts.mu.Lock()
	same := slices.Equal(ts.servers, servers)
	ts.servers = slices.Clone(servers)
	if !same {
		ts.hadSync = false // the admin's new servers may step as far as they need
	}
	ts.mu.Unlock()
	if !same {
		ts.Kick()
	}
}

// UplinkMoved takes the new uplink's NTP servers from its DHCP lease
// (used when system.ntp names none) and syncs now: servers may be
// reachable that were not.
func (ts *timeSync) UplinkMoved(ntp []netip.Addr) {
	var list []string
	for _, a := range ntp {
		list = append(list, a.String())
	}
	ts.mu.Lock()
	ts.uplink = list
	ts.mu.Unlock()
	ts.Kick()
}

// Kick asks for a sync now.
func (ts *timeSync) Kick() {
	select {
	case ts.kick <- struct{}{}:
	default:
	}
}

// Status is the last sync's result.
func (ts *timeSync) Status() TimeSyncStatus {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	st := ts.st
	st.Servers = ts.serversLocked()
	return st
}

func (ts *timeSync) Run(ctx context.Context) {
	wait := time.Duration(0)
	retry := ntpRetry
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-ts.kick:
			retry = ntpRetry
		case <-t.C:
		}
		t.Stop()
		switch err := ts.syncOnce(ctx); {
		case errors.Is(err, errNoNTPServers):
			wait = ntpPoll
		case err != nil:
			wait, retry = retry, min(2*retry, ntpRetryMax)
		default:
			wait, retry = ntpPoll, ntpRetry
		}
	}
}

var errNoNTPServers = errors.New("no NTP servers set (system.ntp)")

// serversLocked is system.ntp, else the uplink's from DHCP. ts.mu is held.
func (ts *timeSync) serversLocked() []string {
	if len(ts.servers) > 0 {
		return slices.Clone(ts.servers)
	}
	return slices.Clone(ts.uplink)
}

// syncOnce asks the servers in order and takes the first good answer.
func (ts *timeSync) syncOnce(ctx context.Context) error {
	ts.mu.Lock()
	servers := ts.serversLocked()
	ts.mu.Unlock()
	if len(servers) == 0 {
		return errNoNTPServers
	}
	var errs []error
	for _, srv := range servers {
		qctx, cancel := context.WithTimeout(ctx, ntpTimeout)
		a, err := queryNTP(qctx, srv, ts.now)
		cancel()
		if err == nil {
			// A time no right clock shows (before the firmware's build,
			// after 2100) is refused: a DHCP server's NTP or anyone on the
			// path could otherwise set the box years back, making expired
			// tokens and certificates valid, and the RTC would keep it.
			if perr := clock.Plausible(ts.now().Add(a.Offset), ts.built()); perr != nil {
				err = fmt.Errorf("NTP server %s: %w", srv, perr)
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return ts.apply(a)
	}
	err := errors.Join(errs...)
	ts.mu.Lock()
	if ts.st.LastError != err.Error() {
		ts.log.Warn("NTP: no server answered", "servers", servers, "err", err)
	}
	ts.st.Synced, ts.st.LastError = false, err.Error()
	ts.mu.Unlock()
	return err
}

// apply steps the clock when it is off by more than ntpStep.
func (ts *timeSync) apply(a ntpAnswer) error {
	if err := ts.confirmLargeStep(a); err != nil {
		return err
	}
	stepped := false
	var err error
	if a.Offset > ntpStep || a.Offset < -ntpStep {
		err = ts.set(ts.now().Add(a.Offset))
		var rtcErr *clock.RTCError
		if err == nil || errors.As(err, &rtcErr) {
			stepped = true
			ts.log.Info("clock set by NTP", "server", a.Server, "offset", a.Offset.Round(time.Millisecond), "stratum", a.Stratum)
			if err != nil {
				ts.log.Warn("NTP", "err", err)
				err = nil
			}
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err != nil {
		ts.st.Synced, ts.st.LastError = false, err.Error()
		ts.log.Error("NTP: the clock could not be set", "err", err)
		return err
	}
	ts.hadSync = true
	ts.st = TimeSyncStatus{Synced: true, Server: a.Server, LastSync: ts.now(), OffsetMS: a.Offset.Milliseconds(), Stepped: stepped}
	return nil
}

// confirmLargeStep refuses a step of more than ntpMaxChange after a sync
// (or back, before one) until ntpConfirm answers in a row agree on it (within ntpAgree): a
// moment on the path cannot move a clock that was right, while a real
// correction (or a first sync that was wrong) is taken within a minute.
func (ts *timeSync) confirmLargeStep(a ntpAnswer) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	// A first sync may step forward as far as it needs (a flat RTC is
	// behind); back only as a sync may later: a clock going back brings
	// expired tokens back.
	if (!ts.hadSync && a.Offset >= 0) || (a.Offset <= ntpMaxChange && a.Offset >= -ntpMaxChange) {
		ts.agreed = 0
		return nil
	}
	if d := a.Offset - ts.pending; ts.agreed > 0 && d <= ntpAgree && d >= -ntpAgree {
		ts.agreed++
	} else {
		ts.pending, ts.agreed = a.Offset, 1
	}
	if ts.agreed >= ntpConfirm {
		ts.agreed = 0
		return nil
	}
	err := fmt.Errorf("NTP server %s: asks to step the clock by %v after it was set; taken when %d answers in a row agree (%d so far)",
		a.Server, a.Offset.Round(time.Second), ntpConfirm, ts.agreed)
	ts.st.Synced, ts.st.LastError = false, err.Error()
	ts.log.Warn("NTP: large step not taken yet", "server", a.Server, "offset", a.Offset.Round(time.Second), "agreeing", ts.agreed)
	return err
}

func (ts *timeSync) handleStatus(w http.ResponseWriter, _ *http.Request) {
	localapi.WriteJSON(w, http.StatusOK, ts.Status())
}
