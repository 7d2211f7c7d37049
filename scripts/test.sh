#!/usr/bin/env bash
# test.sh: install what is missing, start what the tests need, run every test.
# Ends with the line "N passed, N failed, N skipped"; exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/install.sh
# System tests start the real Zabbix 6.0 on demand (scripts/zabbix.sh start, idempotent); stop it
# afterwards unless it was already running before the tests (then it belongs to someone else).
zabbix_was_running=0
bash scripts/zabbix.sh status >/dev/null 2>&1 && zabbix_was_running=1
stop_zabbix() { ((zabbix_was_running)) || bash scripts/zabbix.sh stop >/dev/null 2>&1 || true; }
# the same for the 3-member etcd of the high-availability tests (scripts/etcd.sh start, on demand)
etcd_was_running=0
bash scripts/etcd.sh status 2>/dev/null | grep -q running && etcd_was_running=1
stop_etcd() { ((etcd_was_running)) || bash scripts/etcd.sh stop >/dev/null 2>&1 || true; }
# A process the tests left running with our output (a pipe, under CI's tee) holds that pipe open,
# and the run never ends. Every test cleans up after itself; this catches the one that did not,
# names it and kills it (the daemons the tests share write to their own logs, not to us).
kill_leftovers() {
  local out p fd args
  out=$(readlink /proc/$$/fd/1) || return 0
  [[ $out == pipe:* ]] || return 0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    ((p == $$ || p == BASHPID)) && continue
    for fd in 1 2; do
      if [[ $(readlink "/proc/$p/fd/$fd" 2>/dev/null) == "$out" ]]; then
        args=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)
        log "killing a process the tests left running on our output: $p $args"
        kill -9 "$p" 2>/dev/null || true
        break
      fi
    done
  done
}
trap 'stop_zabbix; stop_etcd; kill_leftovers' EXIT
log "running tests"
set +e
npx --no-install mocha "$@"
rc=$?
set -e
exit $rc
