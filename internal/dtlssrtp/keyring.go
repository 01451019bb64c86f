// Package dtlssrtp takes the media of established WebRTC sessions off
// pion's per-packet goroutines. pion keeps doing what it is good at (ICE,
// the DTLS handshake, SDP); this package watches the handshakes on the
// shared ICE socket, learns each session's SRTP keys, and then encrypts
// and decrypts the session's RTP itself on the socket's one reader
// goroutine and on the writer's goroutine. A packet that no session
// claims goes to pion unchanged, so a session whose keys could not be
// learned simply stays on pion's path.
package dtlssrtp

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/srtp/v3"
)

// Keyring learns SRTP master keys from DTLS handshakes: the client and
// server randoms, cipher suite and SRTP profile from the plaintext hellos
// a Conn sees, and the master secret from pion/dtls's key log, which the
// Keyring receives as its io.Writer (SettingEngine.SetDTLSKeyLogWriter).
// Secrets stay in memory, where pion holds them anyway, and are dropped
// once used or after keyTTL.
type Keyring struct {
	mu      sync.Mutex
	hellos  map[netip.AddrPort]*hellos
	secrets map[[32]byte]secret
	swept   time.Time
}

// hellos is what one peer's handshake showed in the clear.
type hellos struct {
	client, server [32]byte
	haveClient     bool
	haveServer     bool
	// weClient: the ClientHello was sent from here (we are the DTLS client)
	weClient bool
	suite    uint16
	profile  uint16
	at       time.Time
}

type secret struct {
	master []byte
	at     time.Time
}

// keyTTL bounds how long an unused handshake is remembered: a call takes
// its keys within seconds of the handshake.
const keyTTL = 2 * time.Minute

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring {
	return &Keyring{hellos: map[netip.AddrPort]*hellos{}, secrets: map[[32]byte]secret{}}
}

// Write takes pion/dtls's key log lines (NSS format: "CLIENT_RANDOM
// <client random> <master secret>"); other labels are ignored.
func (k *Keyring) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) != 3 || string(f[0]) != "CLIENT_RANDOM" {
			continue
		}
		var cr [32]byte
		if hex.DecodedLen(len(f[1])) != 32 {
			continue
		}
		if _, err := hex.Decode(cr[:], f[1]); err != nil {
			continue
		}
		ms := make([]byte, hex.DecodedLen(len(f[2])))
		if _, err := hex.Decode(ms, f[2]); err != nil || len(ms) != 48 {
			continue
		}
		k.mu.Lock()
		k.secrets[cr] = secret{master: ms, at: time.Now()}
		k.sweepLocked()
		k.mu.Unlock()
	}
	return len(p), nil
}

// observe reads the hellos of a DTLS datagram exchanged with peer
// (outbound: sent to it): epoch 0 ClientHellos (their first fragment) and
// whole ServerHellos; a fragmented ServerHello leaves the peer on pion's
// path.
func (k *Keyring) observe(peer netip.AddrPort, b []byte, outbound bool) {
	peer = unmap(peer)
	for len(b) >= 13 {
		ctype, epoch := b[0], binary.BigEndian.Uint16(b[3:5])
		l := int(binary.BigEndian.Uint16(b[11:13]))
		if len(b) < 13+l {
			return
		}
		rec := b[13 : 13+l]
		b = b[13+l:]
		if ctype != 22 || epoch != 0 { // handshake records before ChangeCipherSpec
			continue
		}
		for len(rec) >= 12 {
			mt := rec[0]
			mlen, off, flen := be24(rec[1:4]), be24(rec[6:9]), be24(rec[9:12])
			if len(rec) < 12+flen {
				break
			}
			body := rec[12 : 12+flen]
			rec = rec[12+flen:]
			switch {
			case mt == 1 && off == 0:
				// the random is at the start: the first fragment will do
				// (browsers' post-quantum key shares fragment their hellos)
				k.clientHello(peer, body, outbound)
			case mt == 2 && off == 0 && flen == mlen:
				k.serverHello(peer, body)
			}
		}
	}
}

func be24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }

func (k *Keyring) clientHello(peer netip.AddrPort, body []byte, outbound bool) {
	if len(body) < 34 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	h := k.hellos[peer]
	var random [32]byte
	copy(random[:], body[2:34])
	if h == nil || !h.haveClient || h.client != random {
		// a new handshake from this address starts over
		h = &hellos{}
		k.hellos[peer] = h
	}
	h.client, h.haveClient, h.weClient, h.at = random, true, outbound, time.Now()
	k.sweepLocked()
}

func (k *Keyring) serverHello(peer netip.AddrPort, body []byte) {
	// version(2) random(32) session_id<0..32> cipher_suite(2) compression(1) extensions<0..2^16-1>
	if len(body) < 35 {
		return
	}
	var h hellos
	copy(h.server[:], body[2:34])
	p := body[34:]
	sid := int(p[0])
	if len(p) < 1+sid+3 {
		return
	}
	p = p[1+sid:]
	h.suite = binary.BigEndian.Uint16(p[0:2])
	p = p[3:]
	if len(p) >= 2 {
		el := int(binary.BigEndian.Uint16(p[0:2]))
		if len(p) < 2+el {
			return
		}
		for e := p[2 : 2+el]; len(e) >= 4; {
			typ, l := binary.BigEndian.Uint16(e[0:2]), int(binary.BigEndian.Uint16(e[2:4]))
			if len(e) < 4+l {
				return
			}
			data := e[4 : 4+l]
			e = e[4+l:]
			// use_srtp (RFC 5764 section 4.1.1): the server names one profile
			if typ == 14 && len(data) >= 4 && binary.BigEndian.Uint16(data[0:2]) == 2 {
				h.profile = binary.BigEndian.Uint16(data[2:4])
			}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := k.hellos[peer]
	if cur == nil {
		cur = &hellos{}
		k.hellos[peer] = cur
	}
	cur.server, cur.haveServer, cur.suite, cur.profile, cur.at = h.server, true, h.suite, h.profile, time.Now()
	k.sweepLocked()
}

// sweepLocked forgets handshakes nobody asked for within keyTTL.
func (k *Keyring) sweepLocked() {
	now := time.Now()
	if now.Sub(k.swept) < keyTTL/4 {
		return
	}
	k.swept = now
	for a, h := range k.hellos {
		if now.Sub(h.at) > keyTTL {
			delete(k.hellos, a)
		}
	}
	for r, s := range k.secrets {
		if now.Sub(s.at) > keyTTL {
			delete(k.secrets, r)
		}
	}
}

// Keys are one session's SRTP master keys, seen from this end.
type Keys struct {
	Profile               srtp.ProtectionProfile
	LocalKey, LocalSalt   []byte
	RemoteKey, RemoteSalt []byte
}

// Keys derives the SRTP keys of the finished handshake with peer (RFC
// 5764 section 4.2: the "EXTRACTOR-dtls_srtp" exporter of RFC 5705), as
// the DTLS client when isClient, and forgets the handshake. A role that
// contradicts the handshake seen is an error.
func (k *Keyring) Keys(peer netip.AddrPort, isClient bool) (Keys, error) {
	return k.keys(unmap(peer), &isClient)
}

// KeysFor is Keys in the role the handshake showed: client if the
// ClientHello went out from here.
func (k *Keyring) KeysFor(peer netip.AddrPort) (Keys, error) {
	return k.keys(unmap(peer), nil)
}

func (k *Keyring) keys(peer netip.AddrPort, role *bool) (Keys, error) {
	k.mu.Lock()
	h := k.hellos[peer]
	var sec secret
	var ok bool
	if h != nil {
		sec, ok = k.secrets[h.client]
	}
	switch {
	case h == nil || !h.haveClient:
		k.mu.Unlock()
		return Keys{}, fmt.Errorf("no DTLS ClientHello seen from %s", peer)
	case !h.haveServer:
		k.mu.Unlock()
		return Keys{}, fmt.Errorf("no whole DTLS ServerHello seen for %s", peer)
	case !ok:
		k.mu.Unlock()
		return Keys{}, fmt.Errorf("no master secret logged for the handshake with %s", peer)
	case role != nil && *role != h.weClient:
		k.mu.Unlock()
		return Keys{}, fmt.Errorf("asked for keys as DTLS client=%v, but the handshake with %s had client=%v", *role, peer, h.weClient)
	}
	isClient := h.weClient
	hs := *h
	delete(k.hellos, peer)
	delete(k.secrets, h.client)
	k.mu.Unlock()

	profile := srtp.ProtectionProfile(hs.profile)
	keyLen, err := profile.KeyLen()
	if err != nil {
		return Keys{}, fmt.Errorf("SRTP profile %#04x: %w", hs.profile, err)
	}
	saltLen, err := profile.SaltLen()
	if err != nil {
		return Keys{}, fmt.Errorf("SRTP profile %#04x: %w", hs.profile, err)
	}
	seed := append(append([]byte("EXTRACTOR-dtls_srtp"), hs.client[:]...), hs.server[:]...)
	km, err := prf.PHash(sec.master, seed, 2*keyLen+2*saltLen, prfHash(hs.suite))
	if err != nil {
		return Keys{}, err
	}
	clientKey, serverKey := km[:keyLen], km[keyLen:2*keyLen]
	clientSalt, serverSalt := km[2*keyLen:2*keyLen+saltLen], km[2*keyLen+saltLen:]
	if isClient {
		return Keys{Profile: profile, LocalKey: clientKey, LocalSalt: clientSalt, RemoteKey: serverKey, RemoteSalt: serverSalt}, nil
	}
	return Keys{Profile: profile, LocalKey: serverKey, LocalSalt: serverSalt, RemoteKey: clientKey, RemoteSalt: clientSalt}, nil
}

// Forget drops what was learned about peer's handshake.
func (k *Keyring) Forget(peer netip.AddrPort) {
	peer = unmap(peer)
	k.mu.Lock()
	if h := k.hellos[peer]; h != nil {
		delete(k.secrets, h.client)
		delete(k.hellos, peer)
	}
	k.mu.Unlock()
}

// prfHash is the TLS 1.2 PRF hash of a cipher suite: SHA-384 for the
// *_SHA384 suites, SHA-256 for every other suite pion/dtls offers.
func prfHash(suite uint16) func() hash.Hash {
	switch suite {
	case 0xc02c, 0xc030: // TLS_ECDHE_{ECDSA,RSA}_WITH_AES_256_GCM_SHA384
		return sha512.New384
	}
	return sha256.New
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
