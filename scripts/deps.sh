#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install, from Debian's packages, everything tcpstap's build and tests need.
# Idempotent: a second run changes nothing and takes seconds.
set -euo pipefail

die() { echo "tcpstap-deps: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it calls apt-get); try: sudo make deps"
command -v apt-get >/dev/null || die "apt-get not found: make deps targets Debian 12; see README 'Requirements' for other hosts"

export DEBIAN_FRONTEND=noninteractive

# Bullseye supplies the 5.10 kernel of the matrix. A low pin keeps every other
# package on bookworm: a bullseye package is only taken when nothing else has it.
BULLSEYE_LIST=/etc/apt/sources.list.d/tcpstap-bullseye.list
BULLSEYE_PIN=/etc/apt/preferences.d/tcpstap-bullseye
changed=0
want_list='deb http://deb.debian.org/debian bullseye main'
if [ "$(cat "$BULLSEYE_LIST" 2>/dev/null)" != "$want_list" ]; then
	echo "$want_list" > "$BULLSEYE_LIST"; changed=1
fi
want_pin='Package: *
Pin: release n=bullseye
Pin-Priority: 100'
if [ "$(cat "$BULLSEYE_PIN" 2>/dev/null)" != "$want_pin" ]; then
	echo "$want_pin" > "$BULLSEYE_PIN"; changed=1
fi

# What the build needs, what the guest needs, and the workloads the tests drive.
PKGS=(
	gcc make libc6-dev pkg-config          # userspace build
	systemtap systemtap-runtime elfutils kmod  # module build; staprun in the guest
	qemu-system-x86 busybox-static cpio     # guest kernels
	iproute2 iputils-ping procps psmisc    # netns, veth, netem (tc), ps/kill in tests
	ethtool                                 # segment-sized packets on veth, so netem loss is per segment
	python3                                 # test workloads (client/server)
	python3-prometheus-client               # a real Prometheus parser checks the metrics (tests)
	redis-server redis-tools tcpdump       # benchmark and realistic workloads
	time linux-perf                         # make bench: peak memory, where the decoder's time goes
	clang llvm libclang-rt-14-dev           # decoder fuzz target (libFuzzer)
	linux-image-amd64 linux-headers-amd64   # bookworm's current 6.1
	linux-image-5.10.0-32-amd64 linux-headers-5.10.0-32-amd64  # bullseye 5.10
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" = 0 ] && [ "$changed" = 0 ]; then
	echo "tcpstap-deps: all ${#PKGS[@]} packages already installed"
	exit 0
fi
echo "tcpstap-deps: installing ${#missing[@]} package(s): ${missing[*]}"
apt-get update -q
# redis-server must not start a daemon on the build machine; tests start their own.
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "tcpstap-deps: done"
