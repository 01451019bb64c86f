package web

import (
	"context"
	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/internal/lazyregexp"
	"errors"
	"net/http"
	"sort"
	"time"
	"unicode/utf8"
)

// smsView is the SMS page.
type smsView struct {
	Messages []smsMessage
	Error    string
}

// smsMessage is the part of a message (modemapi.SMS) the page and
// /api/v1/sms show.
type smsMessage struct {
	ID       string    `json:"id"`
	From     string    `json:"from,omitempty"`
	To       string    `json:"to,omitempty"`
	Text     string    `json:"text"`
	Time     time.Time `json:"time"`
	Outgoing bool      `json:"outgoing,omitempty"`
}

func smsOf(m modemapi.SMS) smsMessage {
	return smsMessage{ID: m.ID, From: m.From, To: m.To, Text: m.Text, Time: m.Time, Outgoing: m.Outgoing}
}

// listSMS reads the stored messages from netctl.
func listSMS(ctx context.Context) ([]smsMessage, error) {
	l, err := netapi.NewClient().ListSMS(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]smsMessage, 0, len(l))
	for _, m := range l {
		out = append(out, smsOf(m))
	}
	return out, nil
}

func (s *Server) pageSMS(w http.ResponseWriter, r *http.Request, se *session) {
	v := smsView{}
	lang := langOf(r)
	if socketAbsent("netctl") {
		v.Error = tr(lang, "Network service not available: SMS cannot be read or sent.")
	} else {
		l, err := listSMS(r.Context())
		if err != nil {
			v.Error = trf(lang, "SMS are not available: %s", plainWords(err.Error()))
		}
		sort.Slice(l, func(i, j int) bool { return l[i].Time.After(l[j].Time) })
		v.Messages = l
	}
	s.render(w, r, http.StatusOK, "sms", s.authedPage(se, "SMS", "sms", v))
}

var phoneNumber = lazyregexp.New(`^\+?[0-9]{3,20}$`)

// SMSSend is the body of POST /api/v1/sms.
type SMSSend struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

func (s *Server) handleSMSSend(w http.ResponseWriter, r *http.Request) {
	var req SMSSend
	if err := readJSONLimit(w, r, &req, 8192); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	req.To = tidyPhone(req.To) // tidy_input.go: "+49 151 1234 5678"
	if !phoneNumber.MatchString(req.To) {
		apiError(w, http.StatusBadRequest, errors.New("to: a phone number, digits with an optional leading +"))
		return
	}
	if req.Text == "" || utf8.RuneCountInString(req.Text) > 1600 {
		apiError(w, http.StatusBadRequest, errors.New("text: write 1 to 1600 characters"))
		return
	}
	if socketAbsent("netctl") {
		apiError(w, http.StatusServiceUnavailable, errors.New("network service not available: SMS not sent"))
		return
	}
	to, ok := s.smsPolicy(w, r, req.To) // the GSM bridge's allow-list and rate: sms_policy.go
	if !ok {
		return
	}
	m, err := netapi.NewClient().SendSMS(r.Context(), to, req.Text)
	if err != nil {
		apiError(w, http.StatusBadGateway, err)
		return
	}
	apiJSON(w, http.StatusOK, smsOf(m))
}

func (s *Server) handleSMSList(w http.ResponseWriter, r *http.Request) {
	if socketAbsent("netctl") {
		apiError(w, http.StatusServiceUnavailable, errors.New("network service not available"))
		return
	}
	l, err := listSMS(r.Context())
	if err != nil {
		apiError(w, http.StatusBadGateway, err)
		return
	}
	apiJSON(w, http.StatusOK, l)
}
