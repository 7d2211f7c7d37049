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
trap stop_zabbix EXIT
log "running tests"
set +e
npx --no-install mocha "$@"
rc=$?
set -e
exit $rc
