package modemsim

import (
	"fmt"
	"strings"
	"time"

	"edgebox/modem"
)

// profile is how one modem model answers.
type profile struct {
	name, vendor     string
	cgmi, cgmm, cgmr string
	unsupported      string // final result for unknown commands
	act              int    // 27.007 AcT when registered
	ccidPrefix       string
	bootCFUN         int
	pinReadyLag      time.Duration // +CPIN? says SIM PIN this long after an accepted PIN
	ppp              bool
	simRemovedURC    string
	simReadyURCs     []string
	bootURCs         func(s *Sim) []string
	linkURC          func(s *Sim, state int) string
	vendorHandle     func(s *Sim, name, op string, args []string) (reply, bool)
	extraATI         []string
}

// periodic is the vendor's unsolicited signal report number n.
func (p *profile) periodic(n int) string {
	switch p.vendor {
	case "huawei":
		if n%2 == 0 {
			if p.act == 7 {
				return `^HCSQ: "LTE",44,41,163,27`
			}
			return `^HCSQ: "WCDMA",30,30,58`
		}
		return fmt.Sprintf("^RSSI: %d", 18+n%5)
	case "ericsson":
		return "*ERINFO: 0,0,2"
	case "quectel":
		return fmt.Sprintf(`+QIND: "csq",%d,99`, 18+n%5)
	}
	return fmt.Sprintf("+CIEV: 2,%d", 2+n%3)
}

func (p *profile) ati(s *Sim) []string {
	out := []string{"Manufacturer: " + p.cgmi, "Model: " + p.cgmm, "Revision: " + p.cgmr, "IMEI: " + s.cfg.IMEI}
	return append(out, p.extraATI...)
}

func (p *profile) handle(s *Sim, name, op string, args []string) (reply, bool) {
	if p.vendorHandle == nil {
		return reply{}, false
	}
	return p.vendorHandle(s, name, op, args)
}

var profiles = map[string]*profile{}

func init() {
	for _, hw := range []struct {
		name, model, fw string
		act             int
	}{
		{"huawei-mu609", "MU609", "12.105.29.00.00", 2},
		{"huawei-me909u", "ME909u-521", "12.636.12.01.00", 7},
		{"huawei-me909s", "ME909s-120", "11.617.01.00.00", 7},
	} {
		profiles[hw.name] = &profile{
			name: hw.name, vendor: "huawei",
			cgmi: "Huawei Technologies Co., Ltd.", cgmm: hw.model, cgmr: hw.fw,
			unsupported: "COMMAND NOT SUPPORT", act: hw.act, ccidPrefix: "^ICCID: ",
			bootCFUN: 1, simRemovedURC: "^SIMST: 255", simReadyURCs: []string{"^SIMST: 1"},
			bootURCs: func(*Sim) []string { return []string{"^SYSSTART"} },
			linkURC: func(_ *Sim, st int) string {
				if st == 1 {
					return `^NDISSTAT: 1,,,"IPV4"`
				}
				return `^NDISSTAT: 0,,,"IPV4"`
			},
			vendorHandle: huawei,
			extraATI:     []string{"+GCAP: +CGSM,+DS,+ES"},
		}
	}
	for _, e := range []struct{ name, cgmi, model string }{
		{"ericsson-f5521gw", "Ericsson", "F5521gw"},
		{"dell-dw5550", "Dell Inc.", "DW5550"},
	} {
		profiles[e.name] = &profile{
			name: e.name, vendor: "ericsson", cgmi: e.cgmi, cgmm: e.model, cgmr: "R2A07",
			unsupported: "ERROR", act: 2, ccidPrefix: "", bootCFUN: 4, pinReadyLag: 1500 * time.Millisecond,
			simRemovedURC: "+CPIN: NOT INSERTED", simReadyURCs: []string{"+CPIN: READY"},
			bootURCs: func(*Sim) []string { return []string{"*EMRDY: 1"} },
			linkURC: func(s *Sim, st int) string {
				if !s.e2nap {
					return ""
				}
				return fmt.Sprintf("*E2NAP: %d", st)
			},
			vendorHandle: ericsson,
		}
	}
	profiles["quectel-ec25"] = &profile{
		name: "quectel-ec25", vendor: "quectel", cgmi: "Quectel", cgmm: "EC25", cgmr: "EC25EFAR06A07M4G",
		unsupported: "ERROR", act: 7, ccidPrefix: "+QCCID: ", bootCFUN: 1,
		simRemovedURC: "+QUSIM: 0", simReadyURCs: []string{"+CPIN: READY", "+QIND: SMS DONE"},
		bootURCs: func(s *Sim) []string {
			pin := "+CPIN: READY"
			if s.simLocked() {
				pin = "+CPIN: SIM PIN"
			}
			return []string{"RDY", "+CFUN: 1", pin, "+QUSIM: 1"}
		},
		linkURC: func(_ *Sim, st int) string {
			if st == 0 {
				return `+QIURC: "pdpdeact",1`
			}
			// The call status indication's long form (as with a reject
			// cause); unverified on real cards.
			return `+QNETDEVSTATUS: 1,1,"IPV4"`
		},
		vendorHandle: quectel,
	}
	profiles["sierra-mc8775"] = &profile{
		name: "sierra-mc8775", vendor: "sierra", cgmi: "Sierra Wireless, Incorporated", cgmm: "MC8775",
		cgmr: "K2_0_7_35AP C:/WS/FW/K2_0_7_35AP/MSM6280/SRC 2008/07/15 11:35:41", unsupported: "ERROR",
		act: 2, bootCFUN: 1, ppp: true, ccidPrefix: "!ICCID: ", simRemovedURC: "+CPIN: NOT INSERTED", simReadyURCs: []string{"+CPIN: READY"},
		bootURCs: func(*Sim) []string { return nil },
		linkURC: func(_ *Sim, st int) string {
			if st == 0 {
				return "NO CARRIER"
			}
			return ""
		},
	}
	profiles["generic"] = &profile{
		name: "generic", vendor: "generic", cgmi: "Generic", cgmm: "3GPP Modem", cgmr: "1.0",
		unsupported: "ERROR", act: 7, ccidPrefix: "+CCID: ", bootCFUN: 1,
		simRemovedURC: "+CPIN: NOT INSERTED", simReadyURCs: []string{"+CPIN: READY"},
		bootURCs: func(*Sim) []string { return nil },
		linkURC: func(_ *Sim, st int) string {
			if st == 0 {
				return `+CGEV: NW DEACT "IP","10.8.219.204",1`
			}
			return ""
		},
	}
	profiles["huawei-me909s-120"] = profiles["huawei-me909s"]
	profiles["huawei-me909u-521"] = profiles["huawei-me909u"]
}

// rejectURC is the vendor's indication that the network refused a data
// connection with a 3GPP 24.008 cause ("" when the vendor has none).
func (s *Sim) rejectURC(cause int) string {
	switch s.prof.vendor {
	case "huawei":
		return fmt.Sprintf(`^NDISSTAT: 0,%d,,"IPV4"`, cause)
	case "ericsson":
		if s.e2nap {
			return fmt.Sprintf("*E2NAP: 0,%d", cause) // cause field: unverified on real cards
		}
	case "quectel":
		return fmt.Sprintf(`+QNETDEVSTATUS: 1,0,"IPV4",%d`, cause) // <cid>,<state>,<type>,<cause>: unverified
	}
	return ""
}

// connectLocked starts the data connection: OK now, link URC later.
func (s *Sim) connectLocked(apn string) {
	s.apn = apn
	cause := 0
	switch {
	case !regOK(s.regStat()) || s.cfun != 1:
		cause = 33
	case s.cfg.AcceptAPN != "" && !strings.EqualFold(apn, s.cfg.AcceptAPN):
		cause = 27
	case s.cfg.APNLogin != "" && s.apnUser+":"+s.apnPass != s.cfg.APNLogin:
		cause = 29
	}
	if cause != 0 {
		// The modem accepts the command and reports failure in the URC.
		s.later(s.cfg.ConnectDelay, func() { s.urcLocked(s.rejectURC(cause)) })
		return
	}
	s.link = 2
	if s.prof.vendor == "ericsson" && s.e2nap {
		s.urcLocked("*E2NAP: 2")
	}
	s.later(s.cfg.ConnectDelay, func() {
		if s.link != 2 || !regOK(s.regStat()) {
			return
		}
		s.setLink(1)
		if u := s.prof.linkURC(s, 1); u != "" {
			s.urcLocked(u)
		}
	})
}

func (s *Sim) disconnectLocked() {
	was := s.link
	s.setLink(0)
	if was != 0 {
		if u := s.prof.linkURC(s, 0); u != "" {
			s.later(s.cfg.ConnectDelay/2, func() { s.urcLocked(u) })
		}
	}
}

func huawei(s *Sim, name, op string, args []string) (reply, bool) {
	switch name {
	case "^NDISDUP":
		if len(args) > 7 {
			return reply{final: "TOO MANY PARAMETERS"}, true
		}
		if len(args) < 2 {
			return s.cme(50), true
		}
		if args[1] == "1" {
			if !s.simReady() {
				return s.cme(simNotReadyCode(s)), true
			}
			apn := ""
			if len(args) >= 3 {
				apn = args[2]
			}
			if len(args) >= 4 {
				s.apnUser = args[3]
			}
			if len(args) >= 5 {
				s.apnPass = args[4]
			}
			s.connectLocked(apn)
			return ok(), true
		}
		if s.link == 0 {
			return errReply(), true // already down: real firmware says ERROR
		}
		s.disconnectLocked()
		return ok(), true
	case "^NDISSTATQRY":
		if op != "?" {
			return s.unsupported(), true
		}
		st := s.link
		if st == 2 {
			st = 0
		}
		if s.prof.name == "huawei-mu609" {
			return ok(fmt.Sprintf(`^NDISSTATQRY: %d,,,"IPV4"`, st)), true
		}
		return ok(fmt.Sprintf(`^NDISSTATQRY: %d,,,"IPV4",0,,,"IPV6"`, st)), true
	case "^DHCP":
		if s.link != 1 {
			return errReply(), true
		}
		a := s.cfg.Address
		dns2 := "0"
		if len(s.cfg.DNS) > 1 {
			dns2 = leHex(s.cfg.DNS[1])
		}
		return ok(fmt.Sprintf("^DHCP: %s,%s,%s,%s,%s,%s,43200000,5760000",
			leHex(a.Addr()), leHex(maskOf(a)), leHex(s.cfg.Gateway), leHex(s.cfg.Gateway), leHex(s.cfg.DNS[0]), dns2)), true
	case "^SYSINFOEX":
		st := s.regStat()
		srv, roam := 0, 0
		if regOK(st) {
			srv = 2
		}
		if st == 5 {
			roam = 1
		}
		sim := 1
		if !s.simPresent {
			sim = 255
		}
		if s.prof.act == 7 {
			return ok(fmt.Sprintf(`^SYSINFOEX: %d,3,%d,%d,,6,"LTE",101,"LTE"`, srv, roam, sim)), true
		}
		return ok(fmt.Sprintf(`^SYSINFOEX: %d,3,%d,%d,,3,"WCDMA",41,"WCDMA"`, srv, roam, sim)), true
	case "^HCSQ":
		if !regOK(s.regStat()) {
			return ok(`^HCSQ: "NOSERVICE"`), true
		}
		if s.prof.act == 7 {
			return ok(`^HCSQ: "LTE",44,41,163,27`), true
		}
		return ok(`^HCSQ: "WCDMA",30,30,58`), true
	case "^HFREQINFO":
		if s.prof.act == 7 {
			return ok(`^HFREQINFO: 0,6,3,1300,18150,15000,19300,17200,15000`), true
		}
		return ok(`^HFREQINFO: 0,3,1,10700,21400,5000,9750,19500,5000`), true
	case "^CPIN":
		if !s.simPresent {
			return s.cme(10), true
		}
		code := "READY"
		switch {
		case s.pinLeft == 0:
			code = "SIM PUK"
		case s.simLocked():
			code = "SIM PIN"
		}
		return ok(fmt.Sprintf("^CPIN: %s,%d,%d,%d,4,10", code, s.pinLeft, s.pukLeft, s.pinLeft)), true
	case "^RESET":
		s.later(s.cfg.ConnectDelay, func() { s.powerOn(true) })
		return ok(), true
	case "^CURC", "^SYSCFGEX", "^SYSCFG", "^SETPORT", "^RFSWITCH":
		return ok(), true
	case "+CPINR", "+CESQ":
		return s.unsupported(), true // MU609/ME909 firmware lacks these
	}
	return reply{}, false
}

// simNotReadyCode is the +CME code for "SIM not ready" reasons.
func simNotReadyCode(s *Sim) int {
	if !s.simPresent {
		return 10
	}
	return 11
}

func ericsson(s *Sim, name, op string, args []string) (reply, bool) {
	switch name {
	case "*EMRDY":
		return ok(fmt.Sprintf("*EMRDY: %d", boolInt(s.ready))), true
	case "*ENAP":
		if op == "?" {
			st := s.link
			return ok(fmt.Sprintf("*ENAP: %d", st)), true
		}
		return s.connectSwitch(args, true), true
	case "*E2NAP":
		if op == "?" {
			return ok(fmt.Sprintf("*E2NAP: %d", boolInt(s.e2nap))), true
		}
		s.e2nap = len(args) == 1 && args[0] == "1"
		return ok(), true
	case "*E2IPCFG":
		if s.link != 1 {
			return ok("*E2IPCFG: "), true
		}
		str := func(v string) string { // strings follow +CSCS
			if s.cscs == "UCS2" {
				return toUCS2Hex(v)
			}
			return v
		}
		var b strings.Builder
		fmt.Fprintf(&b, `*E2IPCFG: (1,"%s")(2,"%s")`, str(s.cfg.Address.Addr().String()), str(s.cfg.Gateway.String()))
		for _, d := range s.cfg.DNS {
			fmt.Fprintf(&b, `(3,"%s")`, str(d.String()))
		}
		return ok(b.String()), true
	case "*EIAAUW":
		if len(args) >= 4 {
			s.apnUser, s.apnPass = args[2], args[3]
		}
		return ok(), true
	case "*EPIN":
		return ok(fmt.Sprintf("*EPIN: %d,%d,3,10", s.pinLeft, s.pukLeft)), true
	case "*E2RESET":
		s.later(s.cfg.ConnectDelay, func() { s.powerOn(true) })
		return ok(), true
	case "*ERINFO":
		return ok("*ERINFO: 0,0,2"), true
	case "+CPINR":
		return s.unsupported(), true
	}
	return reply{}, false
}

func quectel(s *Sim, name, op string, args []string) (reply, bool) {
	switch name {
	case "+QCFG":
		if len(args) >= 1 && strings.EqualFold(args[0], "usbnet") {
			if len(args) == 1 {
				return ok(fmt.Sprintf(`+QCFG: "usbnet",%d`, s.usbnet)), true
			}
			v, err := atoi(args[1])
			if err != nil || v < 0 || v > 3 {
				return s.cme(50), true
			}
			s.usbnet = v
			return ok(), true
		}
		return ok(), true
	case "+QICSGP":
		if len(args) >= 3 {
			s.pdp[1] = args[2]
			if len(args) >= 4 {
				s.apnUser = args[3]
			}
			if len(args) >= 5 {
				s.apnPass = args[4]
			}
			return ok(), true
		}
		if len(args) == 1 {
			return ok(fmt.Sprintf(`+QICSGP: 1,"%s","%s","",0`, s.pdp[1], s.apnUser)), true
		}
		return s.cme(50), true
	case "+QNETDEVCTL":
		if op == "?" {
			return ok(fmt.Sprintf("+QNETDEVCTL: %d,1,1,%d", boolInt(s.link != 0), boolInt(s.link == 1))), true
		}
		return s.connectSwitch(args, false), true
	case "+QCSQ":
		if !regOK(s.regStat()) {
			return ok(`+QCSQ: "NOSERVICE"`), true
		}
		return ok(`+QCSQ: "LTE",-65,-95,151,-10`), true
	case "+QPINC":
		return ok(fmt.Sprintf(`+QPINC: "SC",%d,%d`, s.pinLeft, s.pukLeft), `+QPINC: "P2",3,10`), true
	case "+QNWINFO":
		return ok(`+QNWINFO: "FDD LTE","26201","LTE BAND 3",1300`), true
	case "+QURCCFG", "+QINDCFG":
		return ok(), true
	}
	return reply{}, false
}

// connectSwitch answers a vendor's "connect context 1" command
// (*ENAP=1/0, +QNETDEVCTL=1/0 with the rest of its arguments ignored): 1
// connects, when the SIM is ready (and, with needPDP, +CGDCONT defined
// context 1), 0 disconnects; anything else is +CME ERROR: 50.
func (s *Sim) connectSwitch(args []string, needPDP bool) reply {
	switch {
	case len(args) >= 1 && args[0] == "1":
		if !s.simReady() {
			return s.cme(simNotReadyCode(s))
		}
		if _, ok := s.pdp[1]; needPDP && !ok {
			return s.cme(modem.CMENotAllowed)
		}
		s.connectLocked(s.pdp[1])
		return ok()
	case len(args) >= 1 && args[0] == "0":
		s.disconnectLocked()
		return ok()
	}
	return s.cme(50)
}
