#!/usr/bin/env bash
# install.sh: everything ringwatch needs on a fresh Debian 12 machine, idempotent and quick when
# nothing is missing: Debian packages, npm dependencies (npm ci), the TypeScript build, demo keys.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v node >/dev/null || die "Node.js 20 or later is required (not found)"
major=$(node -p 'process.versions.node.split(".")[0]')
((major >= 20)) || die "Node.js 20 or later is required (found $(node -v))"

# build tools and libvirt headers for native addons (npm ci builds the libvirt binding, libvirt/), iproute2 for network-namespace tests
apt_install python3 make g++ pkg-config libvirt-dev iproute2 procps
# curl: tests check a tiny real guest's HTTP service from inside the network namespace it is on
# (test/support/guest-os.ts); the guest image's own packages come with scripts/guest-image.sh
apt_install curl
# tcpdump: a test captures a whole run on the loopback wire and checks nothing readable is on it
# (test/wire-capture.test.ts); the guest-flows discovery script captures the guests' handshakes
# with it. nftables: guest-flows' test gives its namespace a rule that makes conntrack track the
# bridged guests, as a hypervisor's firewall does
apt_install tcpdump nftables

# Debian's chromium, for the console's browser tests (test/console-browser.test.ts drive it through
# playwright-core, which never downloads a browser of its own)
apt_install chromium

# lldpd, for the test that runs the lldp discovery script against real lldpd instances it starts in
# network namespaces. Only the binaries are wanted: its postinst would start the daemon (invoke-rc.d,
# or systemd where it runs) and enable it at boot, sending LLDP frames on every interface. A
# temporary policy-rc.d denies that start (unless one is already there: containers deny anyway),
# and the unit the postinst enabled is disabled again, so installing it starts nothing.
if ! dpkg-query -W -f='${Status}' lldpd 2>/dev/null | grep -q 'ok installed'; then
  policy=/usr/sbin/policy-rc.d
  if [[ -e $policy ]]; then
    apt_install lldpd
  else
    printf '#!/bin/sh\n# ringwatch install.sh: installing lldpd without starting it\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    trap 'as_root rm -f "$policy"' EXIT
    apt_install lldpd
    as_root rm -f "$policy"
    trap - EXIT
  fi
  if [[ -d /run/systemd/system ]]; then as_root systemctl disable lldpd.service >/dev/null 2>&1 || true; fi
fi

# etcd (Debian's etcd-server 3.4), for CMAs in high availability and their tests; installing starts nothing
bash "$ROOT/scripts/etcd.sh" install

# npm ci when the lockfile changed since the last install
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
log "build (tsc -b)"
npx --no-install tsc -b >&2
log "install ok"
