package gateway

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSmallWSBuffersHijack: the upgraded connection gets wsBufSize
// buffers, and bytes the client sent right behind its request (in the
// same segment, already in net/http's reader) are not lost.
func TestSmallWSBuffersHijack(t *testing.T) {
	type got struct {
		rsize, wsize int
		left         string
		err          error
	}
	res := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := smallWSBuffers(w).Hijack()
		if err != nil {
			res <- got{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 5)
		_, err = io.ReadFull(brw, b)
		res <- got{rsize: brw.Reader.Size(), wsize: brw.Writer.Size(), left: string(b), err: err}
	}))
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// the request and what follows it in one write
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nHELLO"); err != nil {
		t.Fatal(err)
	}
	var g got
	select {
	case g = <-res:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not read the bytes sent behind the request within 5 s: lost in the hijack")
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	if g.left != "HELLO" {
		t.Errorf("read %q after the hijack, want the bytes sent behind the request, HELLO", g.left)
	}
	if g.rsize != wsBufSize || g.wsize != wsBufSize {
		t.Errorf("buffers %d/%d bytes, want %d each", g.rsize, g.wsize, wsBufSize)
	}
}

// TestSmallWSBuffersMessages: messages smaller and larger than the
// buffers cross a socket accepted through smallWSBuffers both ways (an
// offer or an answer is larger than wsBufSize).
func TestSmallWSBuffersMessages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(smallWSBuffers(w), r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			typ, b, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			if err := conn.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+srv.Listener.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	for _, n := range []int{1, wsBufSize - 10, wsBufSize, 3 * wsBufSize, 16 << 10} {
		msg := []byte(strings.Repeat("v=0 o=- ", n/8+1)[:n])
		if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(b, msg) {
			t.Errorf("%d bytes: echoed %d bytes, not the same", n, len(b))
		}
	}
}
