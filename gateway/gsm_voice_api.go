package gateway

import (
	"net/http"

	"edgebox/api/gatewayapi"
	"edgebox/internal/localapi"

	"github.com/emiago/sipgo/sip"
)

// gsmCallsAPI serves GET /v1/gsm/calls: the GSM voice calls in progress
// and the last ended, for edgectl and the web dashboard.
func (s *Service) gsmCallsAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/gsm/calls", func(w http.ResponseWriter, r *http.Request) {
		v := s.gsmVoice()
		if v == nil {
			localapi.WriteJSON(w, http.StatusOK, gatewayapi.GSMCalls{Why: "gateway.gsm is off", Active: []gatewayapi.GSMCall{}, Recent: []gatewayapi.GSMCall{}})
			return
		}
		localapi.WriteJSON(w, http.StatusOK, v.calls())
	})
}

// gsmInvite is sip.go's hook for a new INVITE from the PBX: true when it
// dialled out (or refused to) over the SIM.
func (s *Service) gsmInvite(req *sip.Request, tx sip.ServerTransaction) bool {
	v := s.gsmVoice()
	return v != nil && v.invite(req, tx)
}

// gsmInDialog is sip.go's hook for ACK and BYE: true when the request
// belongs to a GSM call.
func (s *Service) gsmInDialog(req *sip.Request, tx sip.ServerTransaction) bool {
	v := s.gsmVoice()
	return v != nil && v.inDialog(req, tx)
}
