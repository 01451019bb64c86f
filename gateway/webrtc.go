package gateway

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/dtlssrtp"
	"edgebox/internal/pionlog"
	"edgebox/internal/udpbatch"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// webrtcHost is the browser side of every call: one UDP port shared by all
// peer connections (ICE mux), and the settings they are built from.
type webrtcHost struct {
	sock   *udpbatch.Socket // the first of the ICE port's sockets
	fast   *dtlssrtp.Conn   // conn as ICE sees it: takes established calls' audio off pion (fastpath.go)
	mux    ice.UDPMux
	se     webrtc.SettingEngine
	lite   bool
	port   int
	bindIP string
	iceSrv []webrtc.ICEServer

	cert     dtlsCert
	leanHost              // the lean stack's part (leancall.go)
	reports  *reportClock // every call's RTCP reports (leanreports.go)

	apiMu sync.Mutex
	apis  map[string]*webrtc.API // by codec list (api)
	ir    *interceptor.Registry
}

func newWebRTCHost(m config.GatewayMedia, log *slog.Logger) (*webrtcHost, error) {
	ip := m.ICEAddress
	if ip == "" {
		ip = "0.0.0.0"
	}
	// One socket per CPU on the one port (SO_REUSEPORT): the kernel keeps
	// each browser on one socket, and each socket's reader relays its
	// calls' audio on its own core.
	bind, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, fmt.Errorf("media.ice_address: %w", err)
	}
	group, err := dtlssrtp.ListenGroup(netip.AddrPortFrom(bind, uint16(m.ICEPort)), 0)
	if err != nil {
		return nil, fmt.Errorf("media.ice_port: %w", err)
	}
	for _, c := range group {
		// every call's browser media arrives on these sockets: large
		// buffers ride out scheduling hiccups under load
		setSockBuf(c, iceSockBuf)
	}
	h := &webrtcHost{sock: group[0], port: int(group[0].LocalAddr().Port()), bindIP: ip}
	h.fast = dtlssrtp.NewConnGroup(group, dtlssrtp.NewKeyring())
	// lean calls' checks are answered on the port too (leancall.go)
	h.leanICE = &dtlssrtp.Lite{}
	h.fast.SetLite(h.leanICE)
	h.reports = newReportClock()
	// One interface list for every call's ICE agent and the mux, read
	// again at most once a second (icenet.go): without it pion dumps the
	// kernel's interface table (netlink) for each call; with pion's own
	// stdnet it keeps the list of the gateway's start for ever. The
	// shared port's candidates come from the mux.
	ifs, err := newLiveNet()
	if err != nil {
		h.reports.close()
		h.fast.Close()
		return nil, fmt.Errorf("network interfaces: %w", err)
	}
	h.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: h.fast, Logger: pionlog.Factory(log).NewLogger("udpmux"), Net: ifs})
	se := webrtc.SettingEngine{LoggerFactory: pionlog.Factory(log)}
	se.SetICEUDPMux(h.mux)
	se.SetNet(ifs)
	// pion's DTLS tells the fast path each session's master secret; it
	// stays in this process's memory, where pion keeps it anyway
	se.SetDTLSKeyLogWriter(h.fast.Keyring())
	// Audio on the fast path no longer passes pion's ICE agent, which then
	// sees only the connectivity checks (every 2.5-5 s from browsers)
	// and pion's own keepalives: allow two missed checks before calling
	// the browser disconnected.
	se.SetICETimeouts(12*time.Second, 30*time.Second, 2*time.Second)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	// mDNS would send multicast on every interface; the box has real
	// addresses to offer and no reason to hide them.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	// The DTLS server chooses the SRTP profile (RFC 5764 section 4.1.2):
	// answering as server makes the box's preference, GCM first, decide.
	if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		h.close()
		return nil, err
	}
	if a, err := netip.ParseAddr(ip); err == nil && a.IsLoopback() {
		se.SetIncludeLoopbackCandidate(true)
	}
	if m.PublicAddress != "" {
		// Reachable directly: answer connectivity checks only (ICE-lite),
		// announcing the public address.
		h.lite = true
		se.SetLite(true)
		h.leanAddr, _ = netip.ParseAddr(m.PublicAddress)
		if m.PublicAddress != m.ICEAddress {
			if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
				External: []string{m.PublicAddress}, AsCandidateType: webrtc.ICECandidateTypeHost,
			}); err != nil {
				h.close()
				return nil, fmt.Errorf("media.public_address: %w", err)
			}
		}
	} else {
		for _, s := range m.ICEServers {
			h.iceSrv = append(h.iceSrv, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}
	h.se = se
	return h, nil
}

func (h *webrtcHost) close() {
	h.reports.close()
	h.mux.Close()
	h.fast.Close()
}

// mime is the WebRTC MIME type of a codec.
func mime(c codec) (string, webrtc.RTPCodecType) {
	switch c.Name {
	case "opus":
		return webrtc.MimeTypeOpus, webrtc.RTPCodecTypeAudio
	case "pcmu":
		return webrtc.MimeTypePCMU, webrtc.RTPCodecTypeAudio
	case "pcma":
		return webrtc.MimeTypePCMA, webrtc.RTPCodecTypeAudio
	case "g722":
		return webrtc.MimeTypeG722, webrtc.RTPCodecTypeAudio
	case "telephone-event":
		return "audio/telephone-event", webrtc.RTPCodecTypeAudio
	case "vp8":
		return webrtc.MimeTypeVP8, webrtc.RTPCodecTypeVideo
	case "h264":
		return webrtc.MimeTypeH264, webrtc.RTPCodecTypeVideo
	}
	return "audio/" + strings.ToUpper(c.Name), webrtc.RTPCodecTypeAudio
}

func codecParams(c codec) (webrtc.RTPCodecParameters, webrtc.RTPCodecType) {
	m, kind := mime(c)
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: m, ClockRate: c.Clock, Channels: c.Channels, SDPFmtpLine: c.Fmtp},
		PayloadType:        webrtc.PayloadType(c.PT),
	}, kind
}

// newPeer builds the browser leg: a peer connection that knows the audio
// codecs the box offered the PBX (so a re-INVITE can switch among them),
// the bridged video codec, and nothing else. The answer is then limited to
// the bridged codec with preferences (audioPreferences).
func (h *webrtcHost) newPeer(audio []codec, video []codec) (*webrtc.PeerConnection, error) {
	api, err := h.api(audio, video)
	if err != nil {
		return nil, err
	}
	cert, err := h.cert.get(time.Now())
	if err != nil {
		return nil, fmt.Errorf("DTLS certificate: %w", err)
	}
	return api.NewPeerConnection(webrtc.Configuration{
		Certificates:  []webrtc.Certificate{cert},
		ICEServers:    h.iceSrv,
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
}

// maxAPIs bounds the cache of shared APIs: one per distinct codec list.
const maxAPIs = 32

// api is the shared webrtc.API for a codec list: browsers of one kind
// offer the same codecs with the same payload types, so calls share a
// handful of APIs (MediaEngine, SettingEngine, interceptor registry)
// built once per configuration: the cache lives in the host, which a
// reload of the media settings rebuilds, and the codec list follows the
// configured codecs. Each peer connection copies the MediaEngine and
// builds its own interceptors from the shared registry.
func (h *webrtcHost) api(audio, video []codec) (*webrtc.API, error) {
	key := fmt.Sprintf("%v|%v", audio, video)
	h.apiMu.Lock()
	defer h.apiMu.Unlock()
	if a := h.apis[key]; a != nil {
		return a, nil
	}
	me := &webrtc.MediaEngine{}
	for _, c := range append(append([]codec(nil), audio...), video...) {
		p, kind := codecParams(c)
		if err := me.RegisterCodec(p, kind); err != nil {
			return nil, err
		}
	}
	if h.ir == nil {
		h.ir = boxInterceptors()
	}
	// RTCP is terminated per leg; both legs' reports come from the
	// relay's statistics (reportClock, leanreports.go).
	a := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(h.se), webrtc.WithInterceptorRegistry(h.ir))
	if h.apis == nil || len(h.apis) >= maxAPIs {
		h.apis = map[string]*webrtc.API{}
	}
	h.apis[key] = a
	return a, nil
}

// boxInterceptors are pion's per-packet hooks on the browser leg: none.
// Sender and receiver reports come from the relay's own statistics
// (reportClock, leanreports.go): pion's report interceptors parse every packet again,
// allocate doing so, and never see the packets of the fast path.
func boxInterceptors() *interceptor.Registry {
	return &interceptor.Registry{}
}

// audioPreferences limits the browser leg to what plan bridges.
func audioPreferences(plan *bridgePlan) []webrtc.RTPCodecParameters {
	p, _ := codecParams(plan.Browser)
	prefs := []webrtc.RTPCodecParameters{p}
	if plan.TE != nil {
		te, _ := codecParams(*plan.TE)
		prefs = append(prefs, te)
	}
	return prefs
}
