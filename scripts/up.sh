#!/usr/bin/env bash
# up.sh: install what is missing, build, and run ringwatch as it stands: a CMA and nanoprobes on
# loopback (CMA 127.0.0.1:1984, nanoprobes hv1..hvN on 127.0.0.2.., all UDP port 1984).
#
#   scripts/up.sh [--for SECONDS] [--hosts N] [--debug]
#
# Keys are created once in var/demo/keys. Logs are JSON (pino), one line per event, prefixed with
# the process name. Ctrl-C (or the end of --for) stops every process cleanly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
DURATION=0 HOSTS=2 DEBUG=()
while (($#)); do
  case $1 in
    --for) DURATION=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --debug) DEBUG=(--debug); shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ && $HOSTS =~ ^[0-9]+$ ]] && ((HOSTS >= 1 && HOSTS <= 200)) || die "--for and --hosts take numbers (hosts 1..200)"

bash scripts/install.sh

DEMO=$ROOT/var/demo
mkdir -p "$DEMO"
node cma/dist/src/cli.js keygen --dir "$DEMO/keys" >&2
export RINGWATCH_CLUSTER_KEY_FILE=$DEMO/keys/cluster.key
export RINGWATCH_STATUS_INTERVAL_MS=${RINGWATCH_STATUS_INTERVAL_MS:-5s}

pids=()
stop_all() {
  trap - INT TERM EXIT
  log "stopping ${#pids[@]} processes"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all INT TERM EXIT

run() { # run NAME CMD...: start a process, prefix its output with NAME
  local name=$1; shift
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

# loopback has no multicast: the nanoprobes are given the CMA's address (on a real network they find
# it by multicast with no configuration at all)
RINGWATCH_COMMAND_KEY_FILE=$DEMO/keys/cma-command.key RINGWATCH_BIND_ADDRESS=127.0.0.1 RINGWATCH_MULTICAST_GROUP= \
RINGWATCH_DATA_DIR=$DEMO/cma-state RINGWATCH_REANNOUNCE_GRACE_MS=15s \
  run cma node cma/dist/src/cli.js run "${DEBUG[@]}"
sleep 0.5
# each demo hypervisor is libvirt's test driver with 5 generated guests (a real one: LIBVIRT_URI=qemu:///system
# makes hv1 read the real libvirtd instead)
for ((i = 1; i <= HOSTS; i++)); do
  node -e 'import("@ringwatch/nanoprobe/test-driver-fixture").then((m) => require("fs").writeFileSync(process.argv[1], m.testDriverXml(m.fixtureDomains(5))))' "$DEMO/hv$i.xml"
  sed -i -E "s#<uuid>[0-9a-f]{8}#<uuid>$(printf '%08x' "$i")#" "$DEMO/hv$i.xml"   # guests of each host are distinct
  uri="test://$DEMO/hv$i.xml"
  ((i == 1)) && [[ -n ${LIBVIRT_URI:-} ]] && uri=$LIBVIRT_URI
  RINGWATCH_IDENTITY=hv$i RINGWATCH_BIND_ADDRESS=127.0.0.$((i + 1)) RINGWATCH_CMA=127.0.0.1:1984 \
  RINGWATCH_CMA_PUBLIC_KEY_FILE=$DEMO/keys/cma-command.pub RINGWATCH_LIBVIRT_URI=$uri \
    run "hv$i" node nanoprobe/dist/src/cli.js run "${DEBUG[@]}"
done
log "running: CMA + $HOSTS nanoprobes ($( ((DURATION)) && echo "for ${DURATION}s" || echo "Ctrl-C to stop"))"
if ((DURATION)); then sleep "$DURATION"; else wait; fi
