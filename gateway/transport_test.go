package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

func TestCallOverTCP(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1, "-t", "t1")
	cfg := testConfig(t, uas.addr())
	port := freeUDPTCPPort(t)
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "tcp", Address: fmt.Sprintf("127.0.0.1:%d", port)}}
	cfg.PBX.Transport = "tcp"
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 25)
	c.Hangup(ctx)
	if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
		t.Errorf("end %+v %v", ev, err)
	}
	uas.wait(t, 10*time.Second)
}

// writeTestCert makes a self-signed certificate for 127.0.0.1.
func writeTestCert(t *testing.T) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test pbx"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// goUAS is a small sipgo user agent server over TLS that answers with
// PCMU and echoes RTP, standing in for a PBX (SIPp here lacks TLS).
type goUAS struct {
	addr    string
	byes    atomic.Int32
	invites atomic.Int32
}

func startGoUAS(t *testing.T, certFile, keyFile string) *goUAS {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rtpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go func() { // RTP echo
		buf := make([]byte, 1500)
		for {
			n, from, err := rtpConn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			rtpConn.WriteToUDP(buf[:n], from)
		}
	}()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	u := &goUAS{addr: ln.Addr().String()}
	ua, _ := sipgo.NewUA()
	srv, _ := sipgo.NewServer(ua)
	cli, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	port := ln.Addr().(*net.TCPAddr).Port
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}}
	contact.Address.UriParams.Add("transport", "tls")
	dialogs := sipgo.NewDialogServerCache(cli, contact)
	sdp := fmt.Sprintf("v=0\r\no=uas 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=sendrecv\r\n", rtpConn.LocalAddr().(*net.UDPAddr).Port)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		u.invites.Add(1)
		d, err := dialogs.ReadInvite(req, tx)
		if err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, 400, err.Error(), nil))
			return
		}
		d.Respond(180, "Ringing", nil)
		d.RespondSDP([]byte(sdp))
		<-d.Context().Done()
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { dialogs.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		u.byes.Add(1)
		dialogs.ReadBye(req, tx)
	})
	go srv.ServeTLS(ln)
	t.Cleanup(func() {
		ln.Close()
		ua.Close()
		rtpConn.Close()
	})
	return u
}

func TestCallOverTLS(t *testing.T) {
	certFile, keyFile := writeTestCert(t)
	uas := startGoUAS(t, certFile, keyFile)
	cfg := testConfig(t, uas.addr)
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "tls", Address: fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))}}
	cfg.SIP.TLSCert, cfg.SIP.TLSKey, cfg.SIP.TLSCA = certFile, keyFile, certFile
	cfg.PBX.Transport = "tls"
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 25)
	c.Hangup(ctx)
	if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
		t.Errorf("end %+v %v", ev, err)
	}
	if uas.invites.Load() != 1 || uas.byes.Load() != 1 {
		t.Errorf("UAS saw %d INVITEs and %d BYEs over TLS", uas.invites.Load(), uas.byes.Load())
	}
}

func TestTLSRefusesUnknownPBXCertificate(t *testing.T) {
	certFile, keyFile := writeTestCert(t)
	otherCA, _ := writeTestCert(t)
	uas := startGoUAS(t, certFile, keyFile)
	cfg := testConfig(t, uas.addr)
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "tls", Address: fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))}}
	cfg.SIP.TLSCert, cfg.SIP.TLSKey, cfg.SIP.TLSCA = certFile, keyFile, otherCA
	cfg.PBX.Transport = "tls"
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.Reason, "certificate") || uas.invites.Load() != 0 {
		t.Errorf("ended %d %q with %d INVITEs at the UAS; want a certificate error and none", ev.SIPCode, ev.Reason, uas.invites.Load())
	}
}

func TestPortalOverHTTPS(t *testing.T) {
	certFile, keyFile := writeTestCert(t)
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Portal.PlainHTTP = false
	cfg.Portal.TLSCert, cfg.Portal.TLSKey = certFile, keyFile
	svc := startGateway(t, cfg)
	pem, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsConf := &tls.Config{RootCAs: pool}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := client.Authorize(ctx, hc, "https://"+svc.PortalAddr(), testAPIKey,
		gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.WebSocketURL, "wss://") {
		t.Errorf("websocket URL %q is not wss://", res.WebSocketURL)
	}
	c, err := client.Dial(ctx, res.WebSocketURL, res.Token, client.Options{LoopbackOnly: true, TLSConfig: tlsConf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 10)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
	// plain HTTP to the TLS port gets nowhere
	if _, err := client.Authorize(ctx, httpClient, "http://"+svc.PortalAddr(), testAPIKey, gateway.AuthorizeRequest{From: testFrom, Destination: "support"}); err == nil {
		t.Error("plain HTTP accepted on the HTTPS portal")
	}
}
