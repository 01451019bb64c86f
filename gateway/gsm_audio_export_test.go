package gateway

// EncodeALaw is the G.711 A-law encoder, for the tests that make audio
// for SIPp to play.
var EncodeALaw = linearToAlaw
