package modem

import "testing"

// TestOperatorNameUCS2: names in UCS-2 hex are decoded, plain names that
// happen to be hex or short stay as the card gave them.
func TestOperatorNameUCS2(t *testing.T) {
	for in, want := range map[string]string{
		`0,0,"00540065006C0065006B006F006D002E00640065",7`: "Telekom.de",
		`0,0,"004F00720061006E00670065002000460052",2`:     "Orange FR",
		`0,0,"4E2D56FD79FB52A8",7`:                         "中国移动",
		`0,0,"00410042",7`:                                 "AB",
		`1,2,"26201",7`:                                    "26201",
		`1,2,"310260",7`:                                   "310260",
		`0,0,"Orange",2`:                                   "Orange",
		`0,0,"3",2`:                                        "3",
		`0,0,"ABBA",2`:                                     "ABBA",             // too short to be hex
		`0,0,"0001000200030004",2`:                         "0001000200030004", // control characters: not text
		`0,0,"00540065006C0065006B006F006D00000000",7`:     "Telekom",          // padded with NULs
		`0,0,"004F0032FFFFFFFF",7`:                         "O2",               // padded as the SIM's name files are
		`0,0,"D83DDCF6004E00650074",7`:                     "📶Net",             // a UTF-16 surrogate pair
		`0,0,"00000000",7`:                                 "00000000",         // padding alone: not a name
	} {
		op, _, err := ParseCOPS(in)
		if err != nil || op != want {
			t.Errorf("%s: %q %v, want %q", in, op, err, want)
		}
	}
}
