#!/usr/bin/env bash
# etcd.sh - a throwaway 3-member etcd cluster (Debian 12's etcd-server 3.4) on loopback, for the
# CMA high-availability tests, benchmarks and the demo. Members listen on 127.0.0.1 only.
#
#   etcd.sh install       install etcd-server and etcd-client (Debian's), starting nothing
#   etcd.sh [start]       install if needed, start the members that are not running, wait for a quorum
#   etcd.sh stop          stop the members this script started (recorded PIDs), keep their data
#   etcd.sh reset         stop, then delete the state dir (next start = an empty cluster)
#   etcd.sh stop-member N SIGNAL   signal member N (1..3): KILL to lose it, STOP/CONT to freeze it
#   etcd.sh start-member N         start member N again (its data dir kept: it rejoins)
#   etcd.sh status        show the members and whether they run
#   etcd.sh env           print shell exports for tests (RINGWATCH_ETCD_ENDPOINTS)
#
# Environment (defaults):
#   ETCD_CLIENT_PORT=23790   member N serves clients on ETCD_CLIENT_PORT+N, peers on ETCD_PEER_PORT+N
#   ETCD_PEER_PORT=23800
#   ETCD_STATE_DIR=/tmp/ringwatch-etcd
#   ETCD_READY_TIMEOUT=60    seconds to wait for a quorum
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
S=${ETCD_STATE_DIR:-/tmp/ringwatch-etcd}
READY_TIMEOUT=${ETCD_READY_TIMEOUT:-60}
MEMBERS=(1 2 3)

client_url() { echo "http://127.0.0.1:$((ETCD_CLIENT_PORT + $1))"; }
peer_url() { echo "http://127.0.0.1:$((ETCD_PEER_PORT + $1))"; }
endpoints() { local n out=(); for n in "${MEMBERS[@]}"; do out+=("$(client_url "$n")"); done; (IFS=,; echo "${out[*]}"); }
cluster() { local n out=(); for n in "${MEMBERS[@]}"; do out+=("m$n=$(peer_url "$n")"); done; (IFS=,; echo "${out[*]}"); }

# alive N: member N's recorded PID runs etcd (guards PID reuse)
alive() {
  local f=$S/m$1.pid pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--name m$1 "
}

install() {
  command -v etcd >/dev/null && command -v etcdctl >/dev/null && return 0
  # the package's postinst would start and enable a system etcd on 127.0.0.1:2379; a temporary
  # policy-rc.d denies that (as install.sh does for lldpd), so installing starts nothing
  local policy=/usr/sbin/policy-rc.d made=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# ringwatch etcd.sh: installing etcd without starting it\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    made=1
  fi
  apt_install etcd-server etcd-client
  ((made)) && as_root rm -f "$policy"
  if [[ -d /run/systemd/system ]]; then as_root systemctl disable --now etcd.service >/dev/null 2>&1 || true; fi
}

start_member() {
  local n=$1 state=new
  alive "$n" && return 0
  mkdir -p "$S"
  # a member with data rejoins the cluster it was part of
  [[ -d $S/m$n.data/member ]] && state=existing
  # heartbeat and election timeouts for a LAN (etcd tuning guide: election timeout ~10× the round trip and
  # above 5× the heartbeat): etcd then elects a new leader member in ~0.5–1 s, well within the CMA lease.
  # Auto compaction: the CMA rewrites its state keys all day; without it etcd keeps every revision
  # until its 2 GB quota stops all writes
  setsid etcd --name "m$n" --data-dir "$S/m$n.data" \
    --listen-client-urls "$(client_url "$n")" --advertise-client-urls "$(client_url "$n")" \
    --listen-peer-urls "$(peer_url "$n")" --initial-advertise-peer-urls "$(peer_url "$n")" \
    --initial-cluster "$(cluster)" --initial-cluster-state "$state" --initial-cluster-token ringwatch-test \
    --heartbeat-interval 50 --election-timeout 500 --logger zap --log-level warn \
    --auto-compaction-mode periodic --auto-compaction-retention 5m \
    > "$S/m$n.log" 2>&1 < /dev/null &
  echo $! > "$S/m$n.pid"
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  until ETCDCTL_API=3 etcdctl --endpoints "$(endpoints)" --command-timeout=2s put ringwatch-etcd-ready 1 >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "etcd: no quorum after ${READY_TIMEOUT}s (logs in $S/m*.log)"
    sleep 0.2
  done
}

stop_member() {
  local n=$1 sig=${2:-TERM} pid
  alive "$n" || return 0
  pid=$(<"$S/m$n.pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  if [[ $sig == TERM || $sig == KILL ]]; then
    for _ in $(seq 50); do alive "$n" || break; sleep 0.1; done
    alive "$n" && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$S/m$n.pid"
  fi
  return 0
}

case ${1:-start} in
  install) install ;;
  start)
    install
    for n in "${MEMBERS[@]}"; do start_member "$n"; done
    wait_ready
    log "etcd: 3 members ready at $(endpoints)"
    ;;
  stop) for n in "${MEMBERS[@]}"; do stop_member "$n"; done ;;
  reset) for n in "${MEMBERS[@]}"; do stop_member "$n"; done; rm -rf "$S" ;;
  stop-member) [[ ${2:-} =~ ^[123]$ ]] || die "stop-member N SIGNAL (N in 1..3)"; stop_member "$2" "${3:-TERM}" ;;
  start-member) [[ ${2:-} =~ ^[123]$ ]] || die "start-member N (N in 1..3)"; start_member "$2" ;;
  status) for n in "${MEMBERS[@]}"; do if alive "$n"; then echo "m$n running pid $(<"$S/m$n.pid") $(client_url "$n")"; else echo "m$n stopped"; fi; done ;;
  env) echo "export RINGWATCH_ETCD_ENDPOINTS=$(endpoints)" ;;
  *) die "unknown command $1 (start|stop|reset|stop-member|start-member|status|env)" ;;
esac
