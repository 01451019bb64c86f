package netctl

// safeAT are the commands the passthrough sends without the unsafe flag
// besides queries ("...?", "...=?"), which always pass. It is an
// allow-list: a modem knows hundreds of commands, vendors add their own,
// and a deny-list misses the ones nobody thought of (raw SIM access,
// power off, a new SMS centre ...). What is here reads the modem's, the
// SIM's or the network's state, or sets something only the passthrough's
// own answer depends on.
var safeAT = map[string]bool{
	// basic: echo, result codes, identification
	"E": true, "V": true, "Q": true, "I": true,
	// identity
	"+CGMI": true, "+CGMM": true, "+CGMR": true, "+CGSN": true, "+GMI": true, "+GMM": true, "+GMR": true,
	"+GSN": true, "+CIMI": true, "+CCID": true, "+ICCID": true, "^ICCID": true, "+QCCID": true, "+CNUM": true,
	// state and signal
	"+CSQ": true, "+CESQ": true, "+CPAS": true, "+CBC": true, "+CLCC": true, "+CEER": true, "+CGPADDR": true,
	"+CGCONTRDP": true, "+QNWINFO": true, "+QENG": true, "+QCSQ": true, "+QSPN": true, "+QINISTAT": true,
	"+QSIMSTAT": true, "^SYSINFO": true, "^SYSINFOEX": true, "^HCSQ": true, "*ERINFO": true, "+COPN": true,
	"+CLAC": true,
	// reading SMS, and how the answer is shown
	"+CMGL": true, "+CMGR": true, "+CPMS": true, "+CSCS": true,
}

// harmlessAT says why p needs the unsafe flag for not being on safeAT;
// "" when it is.
func harmlessAT(p atPart) string {
	if safeAT[p.name] {
		return ""
	}
	return "is not on the passthrough's list of harmless commands"
}
