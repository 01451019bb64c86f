package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"

	"github.com/coder/websocket"
)

// TestPortalDropsIdleAndSlowConnections: the portal is on the internet, so
// a connection may not be held for ever by someone without an API key:
// neither kept alive idle after a request, nor by dribbling the body of a
// refused request, which the server reads on after its answer. Before the
// fix both stayed open as long as the client liked (one goroutine and one
// descriptor each, unbounded). A WebSocket outlives the timeouts.
func TestPortalDropsIdleAndSlowConnections(t *testing.T) {
	defer gateway.SetPortalTimeouts(time.Second, time.Second)()
	svc := startGateway(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))))
	addr := svc.PortalAddr()

	// closedWithin reads from c until the server closes it; it fails if
	// the connection is still open after limit (far above the 1 s
	// timeouts: this checks that it closes, not how fast).
	closedWithin := func(what string, c net.Conn, limit time.Duration) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(limit))
		_, err := io.Copy(io.Discard, c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: connection still open after %s, want closed by the portal", what, limit)
		}
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /sdk/nothing HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	res, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.Close {
		t.Fatalf("the portal closed the connection after its answer (status %d): no keep-alive to test", res.StatusCode)
	}

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	// A refused request whose announced body never comes but in drips.
	fmt.Fprintf(slow, "POST /v1/calls HTTP/1.1\r\nHost: %s\r\nX-API-Key: wrong\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", addr)
	testenv.Drip(t, slow, 200*time.Millisecond, 100)
	// A signaling socket is past the timeouts' reach once upgraded: 2.5 s
	// later (beyond both) it still answers a bad token with an error.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, "ws://"+addr+"/v1/signal", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()

	closedWithin("kept-alive connection left idle", idle, 10*time.Second)
	closedWithin("refused request whose body drips in", slow, 10*time.Second)

	time.Sleep(2500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"auth","token":"not-a-token"}`)); err != nil {
		t.Fatalf("signaling socket closed by the timeouts: %v", err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"error"`) {
		t.Errorf("signaling socket after the timeouts: %q, %v; want an error message for the bad token", data, err)
	}
}
