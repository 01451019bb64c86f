package gateway

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Reading a registrar's answer to REGISTER: the lifetime it granted the
// box's binding, the minimum it wants (423), and when it wants to be
// asked again (Retry-After on 503 and the like).

// intervalTooBrief is a 423 answer: the registrar takes no registration
// shorter than min seconds.
type intervalTooBrief struct{ min int }

func (e *intervalTooBrief) Error() string {
	return "423 Interval Too Brief: Min-Expires " + strconv.Itoa(e.min)
}

// maxExpires bounds the lifetime the box asks for when a registrar's
// Min-Expires is larger still (the config's own upper limit).
const maxExpires = 86400

// minExpires reads a 423's Min-Expires; ok only if it is a lifetime the
// box can ask for and longer than asked (else asking again cannot help).
func minExpires(res *sip.Response, asked int) (int, bool) {
	h := res.GetHeader("Min-Expires")
	if h == nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
	if err != nil || n <= asked || n > maxExpires {
		return 0, false
	}
	return n, true
}

// grantedExpires is the lifetime a 200 to REGISTER granted the box's
// contact. The 200 lists every binding of the address of record, other
// devices' too, each with its expires parameter (RFC 3261 10.2.4): the
// box's own entry counts, then the Expires header, then what was asked.
// An answer without either whose entries all differ from the box's (a
// registrar that rewrote the Contact behind NAT) is read by its shortest
// entry: better refreshed too early than too late.
func grantedExpires(res *sip.Response, own sip.ContactHeader, asked int) int {
	shortest := -1
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || c.Params == nil {
			continue
		}
		v, ok := c.Params.Get("expires")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			continue
		}
		if sameBinding(c.Address, own.Address) {
			return n
		}
		if shortest < 0 || n < shortest {
			shortest = n
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			return n
		}
	}
	if shortest >= 0 {
		return shortest
	}
	return asked
}

// sameBinding says whether a contact the registrar lists is the box's:
// same user, host and port (registrars add or drop URI parameters).
func sameBinding(a, b sip.Uri) bool {
	port := func(u sip.Uri) int {
		if u.Port == 0 {
			return 5060
		}
		return u.Port
	}
	return a.User == b.User && strings.EqualFold(a.Host, b.Host) && port(a) == port(b)
}

// maxRetryAfter bounds how long a Retry-After keeps the box from asking.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header (seconds, optionally with a
// comment or parameters); 0 when there is none.
func retryAfter(res *sip.Response) time.Duration {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0
	}
	v := strings.TrimSpace(h.Value())
	if i := strings.IndexAny(v, " ;("); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter)
}
