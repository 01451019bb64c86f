package gateway

import (
	"bytes"
	"strconv"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// The status-line repair (sipstatusline.go) for SIP over TCP and TLS. A
// stream has no datagram boundaries: the bytes of one read may hold the
// end of one message and the start of the next, or half a status line.
// So each connection keeps where it is in its stream: in a message's
// first line (held back until its end is read, then mended), in its
// headers (looking for Content-Length), or in its body (passed on
// unread). Only a status line is ever changed; a body is never looked at,
// so a sipfrag body with "SIP/2.0 480" in it stays as it is. Over TCP
// sipgo's stream parser took the bare status line as a framing error and
// closed the connection: the call waited 60 s for its answer.

// maxFirstLine bounds the first line held back: longer ones are passed
// on as they are (a status line to mend is 11 bytes and its line end).
const maxFirstLine = 64

// maxMendStreams bounds the connections with state kept between reads:
// a stream is kept only while a read ended inside a message. Beyond the
// bound all are forgotten (at worst a status line goes unmended).
const maxMendStreams = 4096

type streamState uint8

const (
	inFirstLine streamState = iota // at or in a message's first line
	inHeaders
	inBody
)

// mendStream is where one connection is in its stream.
type mendStream struct {
	state    streamState
	first    []byte // inFirstLine: the bytes of the first line read so far
	line     []byte // inHeaders: the current header line (up to 64 bytes)
	length   int    // inHeaders: the Content-Length seen
	bodyLeft int    // inBody
}

// streamMender is the transport layer's read filter: it mends TCP and
// TLS streams, and passes everything else on.
type streamMender struct {
	mu      sync.Mutex
	streams map[string]*mendStream
}

func newStreamMender() *streamMender { return &streamMender{streams: map[string]*mendStream{}} }

func (m *streamMender) filter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if p.Transport != "TCP" && p.Transport != "TLS" || p.LocalAddr == nil || p.RemoteAddr == nil {
		return data, nil // UDP is mended as it is read (sipfilter.go)
	}
	key := p.Transport + " " + p.LocalAddr.String() + " " + p.RemoteAddr.String()
	m.mu.Lock()
	s := m.streams[key]
	m.mu.Unlock()
	if s == nil {
		s = &mendStream{}
	}
	out := s.feed(data)
	m.mu.Lock()
	if s.state == inFirstLine && len(s.first) == 0 {
		delete(m.streams, key) // between messages: nothing to keep
	} else {
		if len(m.streams) >= maxMendStreams && m.streams[key] == nil {
			clear(m.streams)
		}
		m.streams[key] = s
	}
	m.mu.Unlock()
	return out, nil
}

// feed takes the next bytes of the stream and returns them mended; a
// first line not yet ended is held back for the next read.
func (s *mendStream) feed(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		switch s.state {
		case inFirstLine:
			if len(s.first) == 0 {
				// CRLF keepalives between messages (RFC 5626 3.5.1)
				i := 0
				for i < len(data) && (data[i] == '\r' || data[i] == '\n') {
					i++
				}
				out, data = append(out, data[:i]...), data[i:]
				if len(data) == 0 {
					continue
				}
			}
			nl := bytes.IndexByte(data, '\n')
			if nl < 0 && len(s.first)+len(data) <= maxFirstLine {
				s.first = append(s.first, data...)
				data = nil
				continue
			}
			var line []byte
			if nl < 0 {
				line, data = append(s.first, data...), nil
			} else {
				line, data = append(s.first, data[:nl+1]...), data[nl+1:]
			}
			s.first = nil
			if nl >= 0 {
				buf := make([]byte, len(line)+1)
				line = buf[:mendStatusLine(buf, copy(buf, line))]
			}
			out = append(out, line...)
			s.state, s.line, s.length = inHeaders, s.line[:0], 0
		case inHeaders:
			nl := bytes.IndexByte(data, '\n')
			part := data
			if nl >= 0 {
				part = data[:nl]
			}
			if room := 64 - len(s.line); room > 0 {
				s.line = append(s.line, part[:min(room, len(part))]...)
			}
			if nl < 0 {
				out, data = append(out, data...), nil
				continue
			}
			out, data = append(out, data[:nl+1]...), data[nl+1:]
			line := bytes.TrimRight(s.line, "\r")
			s.line = s.line[:0]
			if len(line) == 0 {
				s.state, s.bodyLeft = inBody, s.length
				if s.bodyLeft == 0 {
					s.state = inFirstLine
				}
				continue
			}
			if n, ok := contentLength(line); ok {
				s.length = n
			}
		case inBody:
			n := min(s.bodyLeft, len(data))
			out, data = append(out, data[:n]...), data[n:]
			s.bodyLeft -= n
			if s.bodyLeft == 0 {
				s.state = inFirstLine
			}
		}
	}
	return out
}

// contentLength reads a Content-Length (or compact l) header line.
func contentLength(line []byte) (int, bool) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return 0, false
	}
	name := bytes.TrimSpace(line[:colon])
	if !bytes.EqualFold(name, []byte("content-length")) && !bytes.EqualFold(name, []byte("l")) {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(line[colon+1:])))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
