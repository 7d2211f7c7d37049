#!/usr/bin/env bash
# libvirt-peers.sh: the libvirt collectors bench/libvirt-peers.bench.ts compares the nanoprobe with.
# Root only.
#
#   scripts/libvirt-peers.sh install                    collectd-core + prometheus-libvirt-exporter,
#                                                        without leaving their services running
#   scripts/libvirt-peers.sh collectd-conf FILE PORT     collectd config: virt plugin every 1 s with
#                                                        per-vCPU and balloon stats, sent to 127.0.0.1:PORT
#
# The bench starts collectd and the exporter itself (foreground children it stops); the Debian
# services stay off. Their postinst scripts start them through invoke-rc.d, so the install runs
# with a policy-rc.d that denies starts (unless the machine already has one), and any instance
# started anyway is stopped again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PKGS=(collectd-core prometheus-libvirt-exporter)
SERVICES=(collectd prometheus-libvirt-exporter)
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=""

do_install() {
  local s
  if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\n# ringwatch libvirt-peers.sh: no service starts during this install\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    OWN_POLICY=1
  fi
  # the temporary policy goes away even if the install fails
  trap 'if [[ -n $OWN_POLICY ]]; then rm -f "$POLICY"; fi' EXIT
  apt_install "${PKGS[@]}"
  for s in "${SERVICES[@]}"; do
    # status exits 0 only when it runs (LSB): stop an instance a package started despite the policy
    if [[ -x /etc/init.d/$s ]] && /etc/init.d/"$s" status >/dev/null 2>&1; then
      log "stopping the $s service the package started"
      /etc/init.d/"$s" stop >&2 || true
    fi
  done
}

do_collectd_conf() {
  local file=$1 port=$2
  [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number"
  cat >"$file" <<EOF
# written by ringwatch scripts/libvirt-peers.sh for bench/libvirt-peers.bench.ts
Hostname "ringwatch-bench"
FQDNLookup false
Interval 1
BaseDir "$(dirname "$file")"
PIDFile "$(dirname "$file")/collectd.pid"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
LoadPlugin virt
LoadPlugin network
<Plugin logfile>
  LogLevel warning
  File STDOUT
</Plugin>
<Plugin virt>
  Connection "qemu:///system"
  RefreshInterval 60
  HostnameFormat name
  # per-vCPU times ("vcpu") and the balloon / memory stats ("memory"), like the nanoprobe's groups
  ExtraStats "vcpu memory"
</Plugin>
# loopback only: the bench listens there and only counts what arrives
<Plugin network>
  Server "127.0.0.1" "$port"
</Plugin>
EOF
}

[[ $(id -u) == 0 ]] || die "libvirt-peers.sh must run as root"
case ${1:-} in
  install) do_install ;;
  collectd-conf) (($# == 3)) || die "usage: $0 collectd-conf FILE PORT"; do_collectd_conf "$2" "$3" ;;
  *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
