package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Remote use: with --url (or EDGECTL_URL) edgectl runs on an admin's
// laptop and reaches the box over the VPN. Every command keeps using the
// services' socket clients unchanged: edgectl opens a private directory of
// unix sockets, points EDGEBOX_RUN_DIR at it, and forwards each socket's
// requests to the web service, which passes them to the box's own sockets
// (/api/v1/local/NAME/...) once the token is checked. The "web" socket maps
// to the web API itself.

// remote is a running set of forwarders.
type remote struct {
	dir     string
	servers []*http.Server
}

// remoteTransport is the HTTPS client to the box. With a pinned
// fingerprint it accepts exactly that certificate (the box's is
// self-signed); without, the system's CAs decide.
func remoteTransport(fingerprint string) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if fp := normFingerprint(fingerprint); fp != "" {
		tr.TLSClientConfig.InsecureSkipVerify = true // replaced by the pin below
		tr.TLSClientConfig.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("box sent no certificate")
			}
			sum := sha256.Sum256(raw[0])
			if got := hex.EncodeToString(sum[:]); got != fp {
				return fmt.Errorf("box certificate fingerprint %s does not match --fingerprint: not the box you meant, or its certificate was replaced", colonHex(got))
			}
			return nil
		}
	}
	return tr
}

func normFingerprint(s string) string {
	s = strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s))
	return strings.TrimPrefix(s, "sha256")
}

func colonHex(h string) string {
	var parts []string
	for i := 0; i+1 < len(h); i += 2 {
		parts = append(parts, strings.ToUpper(h[i:i+2]))
	}
	return strings.Join(parts, ":")
}

// explainTLS turns a certificate error into what to do next.
func explainTLS(err error) error {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var cv *tls.CertificateVerificationError
	if errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &cv) {
		return fmt.Errorf("%v\nthe box's certificate is self-signed: compare its SHA-256 fingerprint (serial console, LAN start page) and pass it with --fingerprint or EDGECTL_FINGERPRINT", err)
	}
	return err
}

// startRemote lists the box's services, opens one forwarding socket per
// service and points EDGEBOX_RUN_DIR at them.
func startRemote(ctx context.Context, base, token, fingerprint string) (*remote, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: give the box's address as https://HOST[:PORT]", base)
	}
	if token == "" {
		return nil, errors.New("--url needs an API token: --token or EDGECTL_TOKEN (create one on the box's Admin page)")
	}
	tr := remoteTransport(fingerprint)
	hc := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	names, err := remoteServices(ctx, hc, u, token)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "edgectl-")
	if err != nil {
		return nil, err
	}
	r := &remote{dir: dir}
	for _, name := range append([]string{"web"}, names...) {
		prefix := "/api/v1/local/" + name
		if name == "web" {
			prefix = ""
		}
		l, err := net.Listen("unix", filepath.Join(dir, name+".sock"))
		if err != nil {
			r.close()
			return nil, err
		}
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
				pr.Out.URL.Path = u.Path + prefix + pr.In.URL.Path
				pr.Out.URL.RawPath = ""
				pr.Out.Host = u.Host
				pr.Out.Header.Set("Authorization", "Bearer "+token)
			},
			Transport: tr,
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadGateway)
				json.NewEncoder(w).Encode(map[string]string{"error": explainTLS(err).Error()})
			},
			FlushInterval: -1,
		}
		srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
		r.servers = append(r.servers, srv)
		go srv.Serve(l)
	}
	os.Setenv("EDGEBOX_RUN_DIR", dir)
	return r, nil
}

func remoteServices(ctx context.Context, hc *http.Client, u *url.URL, token string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+"/api/v1/local", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach %s: %w", u.Host, explainTLS(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = resp.Status
		}
		return nil, fmt.Errorf("%s: %s", u.Host, e.Error)
	}
	var names []string
	if err := json.Unmarshal(body, &names); err != nil {
		return nil, fmt.Errorf("%s: unexpected answer (is this an edgebox?): %v", u.Host, err)
	}
	return names, nil
}

func (r *remote) close() {
	for _, s := range r.servers {
		s.Close()
	}
	os.RemoveAll(r.dir)
}
