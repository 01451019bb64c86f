// Package apndb suggests a SIM's data APN from its operator (MCC and MNC,
// the first digits of the IMSI), from a small built-in table of common
// operators.
//
// Source: the operators' published data APNs, as also listed in Android's
// carrier table (AOSP packages/providers/TelephonyProvider,
// apns-conf.xml). Only the general internet APN of each network is kept;
// contract-specific APNs exist, so the UI offers the entry as a
// suggestion, never applies it by itself. Add an operator by adding a
// line to table.
package apndb

import "strings"

// Entry is one operator's usual data APN.
type Entry struct {
	MCCMNC   string // e.g. "26202"
	Country  string // ISO 3166 code
	Operator string
	APN      string
}

var table = []Entry{
	{"26201", "DE", "Telekom", "internet.telekom"},
	{"26202", "DE", "Vodafone", "web.vodafone.de"},
	{"26203", "DE", "O2", "internet"},
	{"26207", "DE", "O2", "internet"},
	{"23201", "AT", "A1", "A1.net"},
	{"23203", "AT", "Magenta", "internet.t-mobile.at"},
	{"23205", "AT", "Drei", "drei.at"},
	{"22801", "CH", "Swisscom", "gprs.swisscom.ch"},
	{"22802", "CH", "Sunrise", "internet"},
	{"22803", "CH", "Salt", "internet"},
	{"23410", "GB", "O2", "mobile.o2.co.uk"},
	{"23415", "GB", "Vodafone", "internet"},
	{"23420", "GB", "Three", "three.co.uk"},
	{"23430", "GB", "EE", "everywhere"},
	{"20404", "NL", "Vodafone", "live.vodafone.com"},
	{"20408", "NL", "KPN", "internet"},
	{"20416", "NL", "Odido", "internet"},
	{"20801", "FR", "Orange", "orange"},
	{"20810", "FR", "SFR", "sl2sfr"},
	{"20820", "FR", "Bouygues Telecom", "mmsbouygtel.com"},
	{"21401", "ES", "Vodafone", "airtelwap.es"},
	{"21407", "ES", "Movistar", "telefonica.es"},
	{"22201", "IT", "TIM", "ibox.tim.it"},
	{"22210", "IT", "Vodafone", "mobile.vodafone.it"},
	{"310260", "US", "T-Mobile", "fast.t-mobile.com"},
	{"310410", "US", "AT&T", "broadband"},
	{"311480", "US", "Verizon", "vzwinternet"},
	{"90140", "--", "1NCE (IoT)", "iot.1nce.net"},
}

// Lookup finds the operator of an IMSI or an MCC+MNC: three-digit MNCs
// are tried before two-digit ones.
func Lookup(imsiOrMCCMNC string) (Entry, bool) {
	s := strings.TrimSpace(imsiOrMCCMNC)
	for _, n := range []int{6, 5} {
		if len(s) < n {
			continue
		}
		for _, e := range table {
			if e.MCCMNC == s[:n] {
				return e, true
			}
		}
	}
	return Entry{}, false
}
