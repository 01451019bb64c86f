// Package api holds nothing itself: its sub-packages are the leaf API
// packages, one per service (modemapi, netapi, vpnapi, gatewayapi, webapi;
// init's is internal/sysapi). Each has only the JSON types of the service's API and
// a typed client over internal/localapi, so that init, web and edgectl talk
// to a service without linking it. layering_test.go enforces that.
package api
