package web

import (
	"net/http"
	"testing"
)

// Below admin scope every internet test gets its own checked transport;
// kept-alive idle connections on it would hold descriptors for up to 90 s
// that no later request could reuse.
func TestInternetOnlyTransportKeepsNoIdleConnections(t *testing.T) {
	for _, rt := range []http.RoundTripper{internetTransport, http.DefaultTransport, nil} {
		tr, ok := internetOnly(rt).(*http.Transport)
		if !ok {
			t.Fatalf("internetOnly(%T) is no *http.Transport", rt)
		}
		if !tr.DisableKeepAlives {
			t.Errorf("internetOnly(%T) keeps idle connections", rt)
		}
	}
}
