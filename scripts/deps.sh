#!/bin/sh
# Installs what building and testing edgebox needs on Debian 12, as root.
# Idempotent: installs only what is missing.
set -eu

PKGS="qemu-system-x86 qemu-utils syslinux syslinux-common mtools dosfstools fdisk
e2fsprogs openvpn cpio slirp gcc sip-tester kamailio dnsmasq-base chromium iproute2 nftables
openssl easy-rsa zstd kmod ppp xz-utils iputils-ping ca-certificates git busybox janus
prometheus rsyslog"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	# Tests run prometheus and rsyslogd themselves on 127.0.0.1; the
	# daemons the packages start would listen on every interface (:9090).
	case " $missing " in *" prometheus "*)
		command -v systemctl >/dev/null 2>&1 && systemctl disable --now prometheus >/dev/null 2>&1 || true ;;
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

# The SDK's TypeScript check (gateway/sdk_types_test.go) uses the pinned
# typescript of gateway/testdata/sdk, installed here from its lockfile, so
# that tests themselves reach no registry. The folder is named by the
# lockfile's hash, as the test looks for it.
if command -v npm >/dev/null 2>&1; then
	lock=gateway/testdata/sdk/package-lock.json
	tsdir="${XDG_CACHE_HOME:-$HOME/.cache}/edgebox-test/typescript-$(sha256sum "$lock" | cut -c1-12)"
	if [ ! -f "$tsdir/node_modules/typescript/package.json" ]; then
		echo "deps: installing the pinned typescript for the SDK check"
		mkdir -p "${tsdir%/*}"
		tmp=$(mktemp -d "${tsdir%/*}/install-XXXXXX")
		cp gateway/testdata/sdk/package.json "$lock" "$tmp/"
		(cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
		rm -rf "$tsdir" && mv "$tmp" "$tsdir"
	fi
fi
