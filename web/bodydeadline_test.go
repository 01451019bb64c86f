package web

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestSlowBodyDoesNotHoldAConnection: a client on the LAN that sends a
// request body a byte now and then is cut off once bodyReadLimit has
// passed (and answered), instead of holding a connection of web for ever
// (before the fix it did: any number of them, from any number of
// sources). A request without a body is not cut off by the deadline.
func TestSlowBodyDoesNotHoldAConnection(t *testing.T) {
	old := bodyReadLimit
	bodyReadLimit = time.Second
	defer func() { bodyReadLimit = old }()
	e := newTestEnv(t, false, Options{})
	_, httpsURL := liveServer(t, e)
	host := strings.TrimPrefix(httpsURL, "https://")
	dial := func() *tls.Conn {
		t.Helper()
		c, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	slow := dial()
	fmt.Fprintf(slow, "POST /api/v1/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", host)
	testenv.Drip(t, slow, 200*time.Millisecond, 100)
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, slow); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("a login whose body drips in still holds its connection after 10 s, want cut off")
	}

	// A GET keeps its connection beyond bodyReadLimit and is answered.
	get := dial()
	br := bufio.NewReader(get)
	for i := range 2 {
		fmt.Fprintf(get, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		get.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %d on one connection: %v", i+1, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		time.Sleep(1500 * time.Millisecond)
	}
}
