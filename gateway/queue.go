package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"edgebox/internal/localapi"

	"github.com/emiago/sipgo/sip"
)

// Limits of a queue update: a day's wait and a queue longer than any
// contact center's are mistakes, refused in words.
const (
	maxQueuePosition = 100000
	maxQueueWaitSec  = 24 * 3600
)

// handleQueue is POST /v1/queue: the portal tells a waiting customer's
// page its place in the queue and the estimated wait (the pseudo-IVR of a
// contact center). The call is named by the token the portal got for it,
// and only the API key that asked for that token may update it.
func (s *Service) handleQueue(w http.ResponseWriter, r *http.Request) {
	var req QueueRequest
	key, ok := s.portalRequest(w, r, 4<<10, &req)
	if !ok {
		return
	}
	if req.Token == "" {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", errors.New("token: the token the portal got for the call is needed"))
		return
	}
	if err := checkQueue(req.Position, req.WaitSec); err != nil {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", err)
		return
	}
	c := s.callByToken(req.Token, key.Name)
	if c == nil {
		// The same answer for another key's call: it does not exist for this key.
		s.portalRefuse(w, r, http.StatusNotFound, "no_call", errors.New("no call in progress for this token: the customer has not connected yet, or the call ended"))
		return
	}
	if err := c.sig.send(Message{Type: MsgQueue, Position: req.Position, WaitSec: req.WaitSec}); err != nil {
		localapi.WriteError(w, http.StatusGone, fmt.Errorf("the customer's page did not take the update (%v): its connection is probably gone", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkQueue says what is wrong with a queue update.
func checkQueue(position, waitSec int) error {
	switch {
	case position < 0 || position > maxQueuePosition:
		return fmt.Errorf("position %d: give 1 (next) to %d, or 0 when unknown", position, maxQueuePosition)
	case waitSec < 0 || waitSec > maxQueueWaitSec:
		return fmt.Errorf("wait_sec %d: give 0 (unknown) to %d seconds", waitSec, maxQueueWaitSec)
	case position == 0 && waitSec == 0:
		return errors.New("give position, wait_sec or both")
	}
	return nil
}

// QueueInfoType is the Content-Type of a SIP INFO in a call's dialog with
// which the PBX updates the waiting customer's page, the body as for
// POST /v1/queue without the token: {"position": 3, "wait_sec": 120}.
const QueueInfoType = "application/vnd.edgebox.queue+json"

func isQueueInfo(req *sip.Request) bool {
	ct := req.ContentType()
	return ct != nil && strings.EqualFold(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]), QueueInfoType)
}

// queueFromInfo reads the body of the PBX's queue INFO.
func queueFromInfo(body []byte) (Message, error) {
	var q struct {
		Position int `json:"position"`
		WaitSec  int `json:"wait_sec"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return Message{}, fmt.Errorf("queue INFO body: %w", err)
	}
	if err := checkQueue(q.Position, q.WaitSec); err != nil {
		return Message{}, err
	}
	return Message{Type: MsgQueue, Position: q.Position, WaitSec: q.WaitSec}, nil
}

// callByToken finds the call in progress started with token by keyName.
func (s *Service) callByToken(token, keyName string) *call {
	h := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.grant.TokenHash == h && c.grant.KeyName == keyName {
			c.mu.Lock()
			ended := c.info.State == StateEnded
			c.mu.Unlock()
			if !ended {
				return c
			}
		}
	}
	return nil
}
