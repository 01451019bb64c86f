// Package testenv holds the helpers the tests share: root and tool checks,
// free loopback ports, polling with WaitFor, a locked log buffer, network
// namespaces with veths, processes started inside them, the Kamailio
// registrar the SIP tests talk to, and a TCP syslog collector.
//
// Only _test.go files and test rigs import it; no product package may
// (TestProductDoesNotLinkTestenv checks that with go list -deps).
//
// Every address a namespace helper hands out lives inside a namespace the
// test made; nothing here sends traffic from the host's own namespace
// except to 127.0.0.0/8.
package testenv
