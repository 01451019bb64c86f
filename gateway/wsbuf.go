package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// wsBufSize is the read and the write buffer of a call's signalling
// socket once upgraded. An established call's socket carries a message
// now and then (hangup, DTMF, a ping, an event), each a few hundred
// bytes; a larger one (an offer, an answer) is read past the buffer
// straight into the message and written in two writes. net/http hands a
// hijacked connection over with 4 KB for each, 8 KB of live heap per
// call held for the call's whole life (issue 17: memory per call).
const wsBufSize = 512

// smallWSBuffers wraps w so that the WebSocket upgrade (websocket.Accept
// hijacks through it) gets wsBufSize buffers instead of net/http's. Its
// conn is then the upgraded connection, for deadlines (wsSignaler).
func smallWSBuffers(w http.ResponseWriter) *wsBufWriter {
	return &wsBufWriter{ResponseWriter: w}
}

type wsBufWriter struct {
	http.ResponseWriter
	conn net.Conn // once hijacked
}

func (w *wsBufWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands over the connection with small buffers. Bytes the client
// sent behind its upgrade request, already in net/http's reader, are
// carried over into the new one's buffer; where they do not fit, the
// connection keeps net/http's buffers.
func (w *wsBufWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	w.conn = conn
	n := brw.Reader.Buffered()
	if n > wsBufSize || brw.Writer.Buffered() > 0 {
		return conn, brw, nil
	}
	var r *bufio.Reader
	if n == 0 {
		r = bufio.NewReaderSize(conn, wsBufSize)
	} else {
		left, _ := brw.Reader.Peek(n)
		r = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(left)), conn), wsBufSize)
		// one read of the bytes.Reader: exactly the n bytes, none from conn
		if _, err := r.Peek(n); err != nil {
			return conn, brw, nil
		}
	}
	return conn, bufio.NewReadWriter(r, bufio.NewWriterSize(conn, wsBufSize)), nil
}
