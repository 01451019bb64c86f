package testenv

import (
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// KamailioOptions shape the test PBX: a registrar and authenticating
// proxy with its users inline (no database).
type KamailioOptions struct {
	// Host is the address Kamailio listens on (UDP). Default 127.0.0.1.
	Host string
	// Port defaults to 5060 inside a namespace and to a free port in the
	// test's own namespace.
	Port int
	// Realm of the digest challenges. Default "edgebox-test".
	Realm string
	// Users and their passwords; only they may register (each only
	// itself) or send requests.
	Users map[string]string
	// Static routes a request-URI user to a fixed "host:port" (a SIPp UAS
	// that cannot register itself); other users are looked up among the
	// registrations.
	Static map[string]string
	// MaxExpires is the longest registration granted, in seconds.
	// Default 60.
	MaxExpires int
}

// Lines Kamailio logs, for the tests to count:
//
//	TEST-REGISTERED <user> expires=<Expires> ct=<contact> src=<source ip> via=<Via>
//	TEST-INVITE from=<From URI> user=<auth user> to=<R-URI> ct=<contact> peer=<source ip>
//	TEST-BRANCH <R-URI>
//	TEST-LOOKUP-FAILED ru=<R-URI> ...
const (
	KamailioRegistered = "TEST-REGISTERED "
	KamailioInvite     = "TEST-INVITE "
)

// kamailioCfg is the script; %[n] are filled by kamailioConfig.
const kamailioCfg = `#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:%[1]s:%[2]d
auto_aliases=no
alias="%[1]s:%[2]d"
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "kex.so"
loadmodule "corex.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 5)
modparam("registrar", "max_expires", %[3]d)

request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (has_totag()) {
		if (loose_route()) { t_relay(); exit; }
		if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
	remove_hf("Route");
	if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
	route(AUTH);
	if (is_method("REGISTER")) {
		if (!save("location")) { sl_reply_error(); exit; }
		xlog("L_NOTICE", "TEST-REGISTERED $au expires=$hdr(Expires) ct=$ct src=$si via=$hdr(Via)\n");
		exit;
	}
	if (is_method("INVITE")) {
		xlog("L_NOTICE", "TEST-INVITE from=$fu user=$au to=$ru ct=$ct peer=$si\n");
		record_route();
	}
%[5]s	if (!lookup("location")) { xlog("L_NOTICE", "TEST-LOOKUP-FAILED ru=$ru rU=$rU rd=$rd\n"); sl_send_reply("404", "Not Found"); exit; }
	t_on_branch("BRANCH");
	t_relay();
}

branch_route[BRANCH] {
	xlog("L_NOTICE", "TEST-BRANCH $ru\n");
}

route[AUTH] {
	$var(pw) = "no-such-password";
%[4]s	if (is_method("REGISTER")) {
		if (!pv_www_authenticate("%[6]s", "$var(pw)", "0")) { www_challenge("%[6]s", "0"); exit; }
		if ($au != $tU) { sl_send_reply("403", "Register only yourself"); exit; }
	} else {
		if (!pv_proxy_authenticate("%[6]s", "$var(pw)", "0")) { proxy_challenge("%[6]s", "0"); exit; }
	}
	consume_credentials();
}
`

// KamailioConfig is the script for o (defaults filled in).
func KamailioConfig(o KamailioOptions) string {
	var users, static strings.Builder
	for _, u := range slices.Sorted(maps.Keys(o.Users)) {
		fmt.Fprintf(&users, "\tif ($au == %q) { $var(pw) = %q; }\n", u, o.Users[u])
	}
	for _, u := range slices.Sorted(maps.Keys(o.Static)) {
		fmt.Fprintf(&static, "\tif ($rU == %q) { $du = \"sip:%s\"; t_relay(); exit; }\n", u, o.Static[u])
	}
	return fmt.Sprintf(kamailioCfg, o.Host, o.Port, o.MaxExpires, users.String(), static.String(), o.Realm)
}

// KamailioServer is a running test PBX.
type KamailioServer struct {
	Host string
	Port int
	Proc *Proc
}

// Addr is host:port of the PBX.
func (k *KamailioServer) Addr() string { return net.JoinHostPort(k.Host, strconv.Itoa(k.Port)) }

// Log is Kamailio's output so far.
func (k *KamailioServer) Log() string { return k.Proc.Log.String() }

// Lines is Kamailio's output so far, line by line.
func (k *KamailioServer) Lines() []string { return strings.Split(k.Log(), "\n") }

// Count is the number of log lines containing text.
func (k *KamailioServer) Count(text string) int {
	n := 0
	for l := range strings.Lines(k.Log()) {
		if strings.Contains(l, text) {
			n++
		}
	}
	return n
}

// Kamailio writes the config for o and runs Kamailio in ns (nil: the
// test's own namespace). It returns once Kamailio listens, and stops it
// (workers included) when the test ends; a failed test logs its output.
func Kamailio(t testing.TB, ns *Netns, o KamailioOptions) *KamailioServer {
	t.Helper()
	bin := "/usr/sbin/kamailio"
	RequireTools(t, bin, "ss")
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 5060
		if ns == nil {
			o.Port = FreePort(t)
		}
	}
	if o.Realm == "" {
		o.Realm = "edgebox-test"
	}
	if o.MaxExpires == 0 {
		o.MaxExpires = 60
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, []byte(KamailioConfig(o)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", cfg, "-DD", "-E", "-m", "32", "-M", "4", "-Y", dir, "-w", dir}
	var p *Proc
	if ns != nil {
		p = ns.Command(bin, args...)
	} else {
		p = Command(t, bin, args...)
	}
	k := &KamailioServer{Host: o.Host, Port: o.Port, Proc: p}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kamailio log:\n%s", Tail(k.Log(), 20000))
		}
	})
	p.Start()
	// Ask ss rather than probe-bind: a probe could take the port from
	// Kamailio in the instant it binds.
	ss := []string{"ss", "-Hlun", fmt.Sprintf("sport = :%d", o.Port)}
	if ns != nil {
		ss = append([]string{"ip", "netns", "exec", ns.Name}, ss...)
	}
	WaitFor(t, 10*time.Second, "kamailio listening on "+k.Addr(), func() (bool, error) {
		select {
		case <-p.Done():
			return false, Final(fmt.Errorf("kamailio exited: %v\n%s", p.Err(), k.Log()))
		default:
		}
		out, _ := exec.Command(ss[0], ss[1:]...).Output()
		return strings.Contains(string(out), k.Addr()), nil
	})
	return k
}
