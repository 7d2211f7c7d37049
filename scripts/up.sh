#!/usr/bin/env bash
# up.sh: install what is missing, build, and run ringwatch as it stands: a CMA and nanoprobes on
# loopback (CMA 127.0.0.1:1984, nanoprobes hv1..hvN on 127.0.0.2.., all UDP port 1984), the CMA's
# HTTP API and web UI (http://127.0.0.1:1984/, user admin, password in var/demo/admin-password), its embedded graph (Kuzu, in var/demo/cma-state),
# and a real Zabbix 6.0 it fills (http://127.0.0.1:8088/, Admin / zabbix; scripts/zabbix.sh).
#
#   scripts/up.sh [--for SECONDS] [--hosts N] [--debug] [--no-zabbix] [--ha]
#
# --ha: CMAs in high availability: a 3-member etcd on loopback (scripts/etcd.sh) and a second CMA
# standing by on 127.0.0.250 (its console at http://127.0.0.250:1984/ once it leads); the nanoprobes
# know both. Kill the leader (the log names it) and watch the other take over.
#
# Keys are created once in var/demo/keys. Logs are one line per event, prefixed with the process
# name: readable (pino-pretty) when this script's output is a terminal, JSON (pino) when it goes to a
# file or pipe (RINGWATCH_LOG_FORMAT=json|pretty overrides). Ctrl-C (or the end of --for) stops
# every process cleanly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
DURATION=0 HOSTS=2 DEBUG=() ZABBIX=1 HA=0
while (($#)); do
  case $1 in
    --for) DURATION=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --debug) DEBUG=(--debug); shift ;;
    --no-zabbix) ZABBIX=0; shift ;;
    --ha) HA=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
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
# the processes write into a pipe (the name prefix), so they cannot see the terminal themselves
[[ -t 1 ]] && export RINGWATCH_LOG_FORMAT=${RINGWATCH_LOG_FORMAT:-pretty}
# the console's first admin: a random password kept in a file (used only at the CMA's first start)
# and a viewer token for the query command, both made once
if [[ ! -s $DEMO/admin-password ]]; then
  (umask 077; node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("base64url") + "\n")' > "$DEMO/admin-password")
fi
export RINGWATCH_ADMIN_PASSWORD_FILE=$DEMO/admin-password
if [[ ! -s $DEMO/viewer.token ]]; then
  (umask 077; node cma/dist/src/cli.js token create --data-dir "$DEMO/cma-state" --name demo-query --role viewer --expires never > "$DEMO/viewer.token")
fi

pids=() zabbix_started=0
stop_all() {
  trap - INT TERM EXIT
  log "stopping ${#pids[@]} processes"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  ((zabbix_started)) && bash scripts/zabbix.sh stop || true
}
trap stop_all INT TERM EXIT

run() { # run NAME CMD...: start a process, prefix its output with NAME
  local name=$1; shift
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

if ((ZABBIX)); then
  # a real Zabbix 6.0 (about 15-45 s the first time); the CMA syncs its configuration through the API
  # and sends values with the sender protocol (spool in the CMA's data dir)
  bash scripts/zabbix.sh status >/dev/null 2>&1 || zabbix_started=1
  bash scripts/zabbix.sh start >&2
  eval "$(bash scripts/zabbix.sh env)"
  export RINGWATCH_ZABBIX_SERVER=$ZABBIX_SERVER_HOST:$ZABBIX_SERVER_PORT RINGWATCH_ZABBIX_API_URL=$ZABBIX_API_URL \
    RINGWATCH_ZABBIX_USER=$ZABBIX_USER RINGWATCH_ZABBIX_PASSWORD=$ZABBIX_PASSWORD \
    RINGWATCH_ZABBIX_CONFIG_CACHE_DELAY_MS=5s   # the test server updates its configuration cache every second
fi

# recovery actions, shown without touching a guest: hv1 checks one guest's service where nothing
# listens, so that guest turns unhealthy; the CMA's escalation ladder runs in dry-run (each step
# recorded as what it would do: console #/ladders, the audit log, and with Zabbix the recovery
# problems of rising severity); Zabbix gets the webhook scripts and seed 001's action beside it
cat > "$DEMO/ladder-policy.json" <<'JSON'
{ "mode": "dry-run",
  "default": ["notify", {"wait": "30s"}, "reboot", {"wait": "30s"}, "reset", {"wait": "30s"}, "escalate"] }
JSON
export RINGWATCH_ACTION_POLICY_FILE=$DEMO/ladder-policy.json
if ((ZABBIX)); then export RINGWATCH_ZABBIX_SCRIPTS_CMA_URL=http://127.0.0.1:1984 RINGWATCH_ZABBIX_CREATE_ACTIONS=true; fi

# loopback has no multicast: the nanoprobes are given the CMA's address (on a real network they find
# it by multicast with no configuration at all)
CMAS=127.0.0.1:1984
if ((HA)); then
  bash scripts/etcd.sh start >&2
  eval "$(bash scripts/etcd.sh env)"
  # the demo's own key prefix: etcd's copy of the state belongs to this var/demo
  export RINGWATCH_ETCD_PREFIX=/ringwatch-demo RINGWATCH_ETCD_ENDPOINTS
  CMAS=127.0.0.1:1984,127.0.0.250:1984
  # the first time: both CMAs start from the same state (the admin and the viewer token made above
  # offline), and etcd forgets any earlier demo's, so whichever leads first uploads this one
  if [[ ! -d $DEMO/cma-state-b ]]; then
    ETCDCTL_API=3 etcdctl --endpoints "$RINGWATCH_ETCD_ENDPOINTS" del --prefix "$RINGWATCH_ETCD_PREFIX/" >/dev/null
    mkdir -p "$DEMO/cma-state" && cp -a "$DEMO/cma-state" "$DEMO/cma-state-b"
  fi
fi
RINGWATCH_COMMAND_KEY_FILE=$DEMO/keys/cma-command.key RINGWATCH_BIND_ADDRESS=127.0.0.1 RINGWATCH_MULTICAST_GROUP= \
RINGWATCH_DATA_DIR=$DEMO/cma-state RINGWATCH_REANNOUNCE_GRACE_MS=15s \
  run cma node cma/dist/src/cli.js run "${DEBUG[@]}"
sleep 0.5
if ((HA)); then
  # the standby: the same keys, its own data directory and addresses
  RINGWATCH_COMMAND_KEY_FILE=$DEMO/keys/cma-command.key RINGWATCH_BIND_ADDRESS=127.0.0.250 RINGWATCH_MULTICAST_GROUP= \
  RINGWATCH_DATA_DIR=$DEMO/cma-state-b RINGWATCH_REANNOUNCE_GRACE_MS=15s RINGWATCH_HTTP_LISTEN=127.0.0.250:1984 \
  RINGWATCH_ZABBIX_SCRIPTS_CMA_URL=${RINGWATCH_ZABBIX_SCRIPTS_CMA_URL:+http://127.0.0.250:1984} \
    run cma-b node cma/dist/src/cli.js run "${DEBUG[@]}"
fi
# each demo hypervisor is libvirt's test driver with 5 generated guests (a real one: LIBVIRT_URI=qemu:///system
# makes hv1 read the real libvirtd instead)
for ((i = 1; i <= HOSTS; i++)); do
  node -e 'import("@ringwatch/libvirt/test-driver-fixture").then((m) => require("fs").writeFileSync(process.argv[1], m.testDriverXml(m.fixtureDomains(5))))' "$DEMO/hv$i.xml"
  sed -i -E "s#<uuid>[0-9a-f]{8}#<uuid>$(printf '%08x' "$i")#" "$DEMO/hv$i.xml"   # guests of each host are distinct
  uri="test://$DEMO/hv$i.xml"
  checks=
  if ((i == 1)); then
    [[ -n ${LIBVIRT_URI:-} ]] && uri=$LIBVIRT_URI
    # the first running guest of the demo hypervisor, its service "down" (nothing listens on port 9)
    sick=$(node -e 'import("@ringwatch/libvirt/test-driver-fixture").then((m) => console.log(m.fixtureDomains(5).find((d) => d.state === "running").name))')
    printf '{ "defaults": { "intervalMs": 5000, "timeoutMs": 1000, "failures": 2 },\n  "checks": [ { "guest": "%s", "tcp": "127.0.0.1:9" } ] }\n' "$sick" > "$DEMO/guest-checks.json"
    [[ -z ${LIBVIRT_URI:-} ]] && checks=$DEMO/guest-checks.json
  fi
  RINGWATCH_IDENTITY=hv$i RINGWATCH_IDENTITY_KEY_FILE=$DEMO/hv$i-identity.key RINGWATCH_CMA_ADDRESSES_FILE=$DEMO/hv$i-cma-addresses.json RINGWATCH_BIND_ADDRESS=127.0.0.$((i + 1)) RINGWATCH_CMA=$CMAS \
  RINGWATCH_CMA_PUBLIC_KEY_FILE=$DEMO/keys/cma-command.pub RINGWATCH_LIBVIRT_URI=$uri RINGWATCH_GUEST_CHECKS_FILE=$checks \
    run "hv$i" node nanoprobe/dist/src/cli.js run "${DEBUG[@]}"
done
((HA)) && log "high availability: CMAs on 127.0.0.1 and 127.0.0.250 (the standby's console: http://127.0.0.250:1984/ once it leads), etcd $RINGWATCH_ETCD_ENDPOINTS; the leader logs 'elected leader'; kill -9 the pid in that line and the other leads within ~5 s"
log "running: CMA + $HOSTS nanoprobes ($( ((DURATION)) && echo "for ${DURATION}s" || echo "Ctrl-C to stop"))"
log "console: http://127.0.0.1:1984/console/   HTTP API: http://127.0.0.1:1984/api/   sign in as admin, password: $(cat "$DEMO/admin-password")  (in var/demo/admin-password, unless changed since)"
log "from a shell: RINGWATCH_TOKEN=\$(cat var/demo/viewer.token) node cma/dist/src/cli.js query --list"
((ZABBIX)) && log "Zabbix: http://127.0.0.1:8088/ (Admin / zabbix), host group 'ringwatch'"
[[ -z ${LIBVIRT_URI:-} ]] && log "recovery (dry-run): guest $sick on hv1 fails its service check on purpose; its ladder steps every 30 s: console #/ladders$( ((ZABBIX)) && echo ", Zabbix problems 'Recovery of guest …' and the action 'ringwatch: guest recovery (seed 001)'")"
log "host identity: each nanoprobe has its own key (var/demo/hvN-identity.key), pinned by the CMA on first use (policy open): console #/host-keys, or RINGWATCH_TOKEN=\$(cat var/demo/viewer.token) node cma/dist/src/cli.js host-keys list; every frame after the announcements is sealed"
if ((DURATION)); then sleep "$DURATION"; else wait; fi
