#!/bin/sh
# Installs what building and testing edgebox needs on Debian 12, as root.
# Idempotent: installs only what is missing.
set -eu

PKGS="qemu-system-x86 qemu-utils syslinux syslinux-common mtools dosfstools fdisk
e2fsprogs openvpn cpio slirp gcc sip-tester kamailio dnsmasq-base chromium iproute2 nftables
openssl easy-rsa zstd kmod ppp xz-utils iputils-ping ca-certificates git busybox janus
prometheus rsyslog chrony tinyproxy"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# No daemon a package brings may start on this machine (chronyd would
	# set the clock from the internet's NTP pool, janus and prometheus
	# listen on every interface): tests run their own, in the foreground.
	own_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
	# Tests run prometheus and rsyslogd themselves on 127.0.0.1; the
	# daemons the packages start would listen on every interface (:9090).
	case " $missing " in *" prometheus "*)
		command -v systemctl >/dev/null 2>&1 && systemctl disable --now prometheus >/dev/null 2>&1 || true ;;
	esac
	# netctl's NTP tests run chronyd themselves (-x, on 127.0.0.1 or in a
	# namespace); the packaged daemon would set this machine's clock from
	# the internet's NTP pool.
	case " $missing " in *" chrony "*)
		command -v systemctl >/dev/null 2>&1 && systemctl disable --now chrony >/dev/null 2>&1 || true
		[ -x /etc/init.d/chrony ] && /etc/init.d/chrony stop >/dev/null 2>&1 || true ;;
	esac
	# make bench runs Janus itself in namespaces of its own; the packaged
	# daemon would serve its API on every interface (:8088, :8188).
	case " $missing " in *" janus "*)
		command -v systemctl >/dev/null 2>&1 && systemctl disable --now janus >/dev/null 2>&1 || true ;;
	esac
fi

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
go mod download
if ! command -v staticcheck >/dev/null 2>&1; then
	echo "deps: installing staticcheck"
	go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

# JavaScript the tests run, each from a lockfile of gateway/testdata,
# installed here into the user's cache so that tests reach no registry:
# the pinned typescript of the SDK's type check (gateway/sdk_types_test.go)
# and JsSIP and SIP.js, the apps of the SIP-over-WebSocket test
# (gateway/sipws_browser_test.go). A folder is named by its lockfile's
# hash, as the tests look for it.
if ! command -v npm >/dev/null 2>&1; then
	echo "deps: installing Debian packages: nodejs npm"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
npm_cache() { # npm_cache NAME DIR: npm ci of DIR's lockfile into the cache
	lock="$2/package-lock.json"
	dir="${XDG_CACHE_HOME:-$HOME/.cache}/edgebox-test/$1-$(sha256sum "$lock" | cut -c1-12)"
	if [ ! -f "$dir/node_modules/.package-lock.json" ]; then
		echo "deps: installing the pinned $1 for the tests"
		mkdir -p "${dir%/*}"
		tmp=$(mktemp -d "${dir%/*}/install-XXXXXX")
		cp "$2/package.json" "$lock" "$tmp/"
		(cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
		rm -rf "$dir" && mv "$tmp" "$dir"
	fi
}
npm_cache typescript gateway/testdata/sdk
npm_cache sipws gateway/testdata/sipws
