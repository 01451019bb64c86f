package gateway

import "bytes"

// mendStatusLine repairs, in place, a response whose status line has no
// reason phrase and no space before the line's end ("SIP/2.0 480\r\n",
// which some PBXs and SBCs send though RFC 3261 wants "SIP/2.0 480 \r\n"):
// the SIP library's parser drops it, and the call then waited for its
// answer until the timeout while the PBX resent its refusal. It returns
// the message's new length (n when nothing changed or b has no room).
func mendStatusLine(b []byte, n int) int {
	msg := b[:n]
	if !bytes.HasPrefix(msg, []byte("SIP/2.0 ")) {
		return n
	}
	end := bytes.IndexByte(msg, '\n')
	if end < 0 {
		return n
	}
	line := bytes.TrimRight(msg[:end], "\r")
	if len(line) != len("SIP/2.0 480") || n+1 > len(b) {
		return n
	}
	for _, d := range line[len("SIP/2.0 "):] {
		if d < '0' || d > '9' {
			return n
		}
	}
	at := len(line)
	copy(b[at+1:n+1], b[at:n])
	b[at] = ' '
	return n + 1
}
