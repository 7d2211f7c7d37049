#!/usr/bin/env bash
# zabbix.sh - a throwaway Zabbix 6.0 server (Debian 12 packages) on loopback, for ringwatch's
# system tests, benchmarks and the demo (scripts/up.sh --zabbix). Root only.
#
#   zabbix.sh [start]   install if needed, start PostgreSQL + zabbix_server + PHP frontend, wait, print
#   zabbix.sh stop      stop only what this script started (recorded PIDs)
#   zabbix.sh reset     stop, then delete the state dir (next start = empty DB)
#   zabbix.sh resetdb   while running: restart zabbix_server on a fresh copy of the initial DB (~3-4s)
#   zabbix.sh status    show recorded processes
#   zabbix.sh stop-server   stop only zabbix_server (PostgreSQL and the frontend keep running): outage tests
#   zabbix.sh start-server  start zabbix_server again (with PostgreSQL up) and wait until its trappers listen
#   zabbix.sh reload    force a configuration cache sync now (zabbix_server -R config_cache_reload)
#   zabbix.sh env       print shell exports for tests (ZABBIX_API_URL, ...)
#
# Environment (defaults):
#   ZBX_PORT=10051        trapper/sender port (Zabbix accepts 1024-32767)
#   ZBX_WEB_PORT=8088     php -S port; API = http://127.0.0.1:$ZBX_WEB_PORT/api_jsonrpc.php
#   ZBX_DB_PORT=15432     private PostgreSQL cluster (not the system 15/main cluster)
#   ZBX_STATE_DIR=/tmp/ringwatch-zabbix   config, logs, PIDs, DB files (keep it short: unix sockets live here)
#   ZBX_CACHE_UPDATE=1    CacheUpdateFrequency in s (new items/hosts usable after <= this)
#   ZBX_WEB_WORKERS=4     PHP_CLI_SERVER_WORKERS for php -S (parallel API calls)
#   ZBX_READY_TIMEOUT=120 seconds to wait for readiness
#   ZBX_SERVER_EXTRA=     extra zabbix_server.conf lines (newline separated); KEY=... replaces ours
# Login: Admin / zabbix. Everything listens on 127.0.0.1 only. Needs root (apt-get, runuser).
set -euo pipefail

ZBX_PORT=${ZBX_PORT:-10051}
ZBX_WEB_PORT=${ZBX_WEB_PORT:-8088}
ZBX_DB_PORT=${ZBX_DB_PORT:-15432}
ZBX_STATE_DIR=${ZBX_STATE_DIR:-/tmp/ringwatch-zabbix}
ZBX_CACHE_UPDATE=${ZBX_CACHE_UPDATE:-1}
ZBX_WEB_WORKERS=${ZBX_WEB_WORKERS:-4}
ZBX_READY_TIMEOUT=${ZBX_READY_TIMEOUT:-120}
ZBX_SERVER_EXTRA=${ZBX_SERVER_EXTRA:-}
PHPV=8.2                                   # Debian 12's PHP
S=$ZBX_STATE_DIR
PGDATA=$S/pg/data
PGSOCK=$S/pg                              # PostgreSQL unix socket dir
CONF=$S/zabbix_server.conf
WEBCONF=/etc/zabbix/zabbix.conf.php       # path hard-coded in Debian's frontend (CConfigFile)
API_URL=http://127.0.0.1:$ZBX_WEB_PORT/api_jsonrpc.php
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

source "$(dirname "$0")/lib.sh"
now() { date +%s%3N; }                   # epoch milliseconds
T0=$(now); TP=$T0
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
phase_done() { local t; t=$(now); log "$(printf '%-24s %6ss (total %6ss)' "$1" "$(secs $((t - TP)))" "$(secs $((t - T0)))")"; TP=$t; }
# running PID: exists and is not a zombie (PID 1 here may reap orphans late)
running() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [[ $st != Z* ]]; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pgbin() { printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1; }

# pid_alive NAME PATTERN: recorded PID exists and its cmdline contains PATTERN (guards PID reuse)
pid_alive() {
  local f=$S/$1.pid pid cmd state
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || return 1
  state=${state%% *}
  [[ -n $state && $state != Z ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  # empty while the process is between execs (setsid -> nohup -> php): alive, just not readable yet;
  # taking that for "exited" failed a start now and then
  [[ -z $cmd ]] && return 0
  grep -qF -- "$2" <<<"$cmd"
}

api() { # api JSON-BODY -> response on stdout
  curl -sS -m 10 -H 'Content-Type: application/json-rpc' -d "$1" "$API_URL"
}

# ---------------------------------------------------------------- 1. packages
install_pkgs() {
  local want=(postgresql zabbix-server-pgsql zabbix-frontend-php php-cli php-pgsql curl
              "php$PHPV-cgi") missing=() p
  # php8.2-cgi satisfies php8.2's "libapache2-mod-php8.2 | php8.2-fpm | php8.2-cgi" without apache2-bin
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]} (log: $S/apt.log)"
    mkdir -p "$S"
    [[ ${ZBX_SKIP_APT_UPDATE:-0} = 1 || -n ${RINGWATCH_APT_UPDATED:-} ]] || apt-get -o DPkg::Lock::Timeout=300 update -qq >"$S/apt.log" 2>&1 || { cat "$S/apt.log" >&2; die "apt-get update failed"; }
    local extra=()
    dpkg-query -W -f='${Status}' "libapache2-mod-php$PHPV" 2>/dev/null | grep -q 'ok installed' \
      || extra+=("libapache2-mod-php$PHPV-")        # trailing '-' = do not pull it in
    apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 "${missing[@]}" "${extra[@]}" \
      >>"$S/apt.log" 2>&1 || { tail -n 30 "$S/apt.log" >&2; die "apt-get install failed"; }
  fi
  phase_done "packages"
}

# ---------------------------------------------------------------- 2. PostgreSQL (private cluster)
start_pg() {
  local bin; bin=$(pgbin); [[ -x $bin/pg_ctl ]] || die "PostgreSQL binaries not found"
  mkdir -p "$S"; chmod 755 "$S"
  install -d -o postgres -g postgres -m 700 "$S/pg"
  if [[ ! -s $PGDATA/PG_VERSION ]]; then
    rm -rf "$PGDATA" "$S/db.imported"
    # UTF8 explicitly: with no LANG, initdb would pick SQL_ASCII and Zabbix refuses non-UTF8 DBs
    runuser -u postgres -- "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$S/pg/initdb.log"
    cat >>"$PGDATA/postgresql.conf" <<PGC
# ringwatch zabbix.sh: loopback only, throwaway durability (fast import/tests)
listen_addresses = '127.0.0.1'
port = $ZBX_DB_PORT
unix_socket_directories = '$PGSOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
PGC
  fi
  if pid_alive postgres "$PGDATA"; then
    log "postgres already running (pid $(<"$S/postgres.pid"))"
  else
    port_busy "$ZBX_DB_PORT" && die "port $ZBX_DB_PORT busy (not our PostgreSQL); set ZBX_DB_PORT"
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA" -l "$S/pg/postgres.log" -w -t 60 \
      -o "-p $ZBX_DB_PORT" start >/dev/null
    head -n1 "$PGDATA/postmaster.pid" >"$S/postgres.pid"
  fi
  phase_done "postgresql start"
}

psql_su() { PGOPTIONS='-c client_min_messages=warning' runuser -u postgres -- "$(pgbin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$ZBX_DB_PORT" "$@"; }

init_db() {
  [[ -f $S/db.imported ]] && { phase_done "db (already imported)"; return; }
  psql_su -U postgres -d postgres <<'SQL'
DROP DATABASE IF EXISTS zabbix;
DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='zabbix')
  THEN CREATE ROLE zabbix LOGIN PASSWORD 'zabbix'; END IF; END$$;
CREATE DATABASE zabbix OWNER zabbix ENCODING 'UTF8' TEMPLATE template0;
SQL
  local d=/usr/share/zabbix-server-pgsql
  # Send all SQL as ONE multi-statement query through php-pgsql: psql would send data.sql's
  # ~173k INSERTs one round trip each (measured ~19s vs ~7s). Runs as role zabbix (owns the tables).
  # shellcheck disable=SC2016  # PHP code, not shell
  zcat "$d/schema.sql.gz" "$d/images.sql.gz" "$d/data.sql.gz" |
    PGHOST=$PGSOCK PGPORT=$ZBX_DB_PORT php -d memory_limit=-1 -d display_errors=stderr -r '
      $c = pg_connect("dbname=zabbix user=zabbix") or exit(1);   // libpq reads PGHOST/PGPORT
      pg_query($c, stream_get_contents(STDIN)) or exit(2);' || die "schema import failed"
  # Default "Zabbix server" host polls an agent on 127.0.0.1:10050 that is not there: disable it.
  psql_su -U zabbix -d zabbix -c "UPDATE hosts SET status=1 WHERE host='Zabbix server'"
  # Planner statistics now: without them each 1s config sync took ~0.7s instead of ~0.13s
  # (idle CPU ~29% vs ~7% of a core) until autovacuum got to it; the pristine copy keeps them.
  psql_su -U postgres -d zabbix -c "ANALYZE"
  # Pristine copy for 'resetdb' (CREATE DATABASE ... TEMPLATE takes well under a second).
  psql_su -U postgres -d postgres -c "DROP DATABASE IF EXISTS zabbix_pristine" \
    -c "CREATE DATABASE zabbix_pristine OWNER zabbix TEMPLATE zabbix"
  touch "$S/db.imported"
  phase_done "db create+import"
}

# ---------------------------------------------------------------- 3. zabbix_server
start_server() {
  mkdir -p "$S/sock" "$S/tmp"
  cat >"$CONF" <<ZC
# generated by ringwatch scripts/zabbix.sh
ListenIP=127.0.0.1
ListenPort=$ZBX_PORT
SourceIP=127.0.0.1
LogType=file
LogFile=$S/zabbix_server.log
LogFileSize=0
PidFile=$S/zabbix_server.daemon.pid
SocketDir=$S/sock
TmpDir=$S/tmp
DBHost=127.0.0.1
DBPort=$ZBX_DB_PORT
DBName=zabbix
DBUser=zabbix
DBPassword=zabbix
AllowRoot=1
# test speed: config cache sync every ${ZBX_CACHE_UPDATE}s (default 60), no housekeeper
CacheUpdateFrequency=$ZBX_CACHE_UPDATE
HousekeepingFrequency=0
# fewer processes than the defaults (2-core test box)
StartPollers=1
StartPollersUnreachable=1
StartHistoryPollers=1
StartPreprocessors=1
StartTrappers=3
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
StartAlerters=1
StartDBSyncers=2
StartLLDProcessors=1
StartProxyPollers=0
StartODBCPollers=0
Timeout=4
StatsAllowedIP=127.0.0.1
FpingLocation=/usr/bin/fping
ZC
  if [[ -n $ZBX_SERVER_EXTRA ]]; then    # a KEY= line there replaces the generated KEY= line
    local keys; keys=$(sed -n 's/^\([A-Za-z]\+\)=.*/^\1=/p' <<<"$ZBX_SERVER_EXTRA")
    [[ -z $keys ]] || { grep -v -f <(printf '%s\n' "$keys") "$CONF" >"$CONF.tmp" || true; mv "$CONF.tmp" "$CONF"; }
    printf '%s\n' "$ZBX_SERVER_EXTRA" >>"$CONF"
  fi
  if pid_alive zabbix_server zabbix_server; then
    log "zabbix_server already running (pid $(<"$S/zabbix_server.pid"))"
  else
    port_busy "$ZBX_PORT" && die "port $ZBX_PORT busy (not our zabbix_server); set ZBX_PORT"
    [[ -f $S/zabbix_server.log ]] && mv -f "$S/zabbix_server.log" "$S/zabbix_server.log.1"
    # -f: stay in foreground so $! is the main process; setsid: own process group
    setsid nohup /usr/sbin/zabbix_server -f -c "$CONF" >>"$S/zabbix_server.out" 2>&1 </dev/null &
    echo $! >"$S/zabbix_server.pid"
  fi
}

# ---------------------------------------------------------------- 4. PHP frontend (php -S)
start_web() {
  if [[ -f $WEBCONF ]] && ! grep -q 'ringwatch scripts/zabbix.sh' "$WEBCONF"; then
    cp -n "$WEBCONF" "$WEBCONF.orig-before-ringwatch"   # keep a foreign config once
  fi
  cat >"$WEBCONF" <<PHPC
<?php
// generated by ringwatch scripts/zabbix.sh (state: $S)
\$DB['TYPE'] = 'POSTGRESQL';
\$DB['SERVER'] = '127.0.0.1';
\$DB['PORT'] = '$ZBX_DB_PORT';
\$DB['DATABASE'] = 'zabbix';
\$DB['USER'] = 'zabbix';
\$DB['PASSWORD'] = 'zabbix';
\$DB['SCHEMA'] = '';
\$DB['ENCRYPTION'] = false;
\$DB['KEY_FILE'] = '';
\$DB['CERT_FILE'] = '';
\$DB['CA_FILE'] = '';
\$DB['VERIFY_HOST'] = false;
\$DB['CIPHER_LIST'] = '';
\$DB['VAULT_URL'] = '';
\$DB['VAULT_DB_PATH'] = '';
\$DB['VAULT_TOKEN'] = '';
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER = '127.0.0.1';
\$ZBX_SERVER_PORT = '$ZBX_PORT';
\$ZBX_SERVER_NAME = 'ringwatch-test';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
PHPC
  chmod 644 "$WEBCONF"
  if pid_alive php "127.0.0.1:$ZBX_WEB_PORT"; then
    log "php -S already running (pid $(<"$S/php.pid"))"
  else
    port_busy "$ZBX_WEB_PORT" && die "port $ZBX_WEB_PORT busy (not our php -S); set ZBX_WEB_PORT"
    # post_max_size: Zabbix's documented minimum (16M; Debian's CLI default is 8M)
    PHP_CLI_SERVER_WORKERS=$ZBX_WEB_WORKERS setsid nohup php -d post_max_size=16M \
      -S "127.0.0.1:$ZBX_WEB_PORT" -t /usr/share/zabbix >>"$S/php.log" 2>&1 </dev/null &
    echo $! >"$S/php.pid"
  fi
}

# ---------------------------------------------------------------- 5. readiness
wait_ready() {
  local deadline=$((SECONDS + ZBX_READY_TIMEOUT)) ok_srv=0 ok_web=0 r
  while ((SECONDS < deadline)); do
    if ((!ok_srv)); then
      pid_alive zabbix_server zabbix_server || { tail -n 20 "$S/zabbix_server.log" >&2 || true; die "zabbix_server exited"; }
      # trappers are forked after the DB check and the first config cache sync
      grep -q 'started \[trapper #1\]' "$S/zabbix_server.log" 2>/dev/null && port_busy "$ZBX_PORT" \
        && { ok_srv=1; phase_done "zabbix_server ready"; }
    fi
    if ((!ok_web)); then
      pid_alive php "127.0.0.1:$ZBX_WEB_PORT" || { tail -n 20 "$S/php.log" >&2 || true; die "php -S exited"; }
      r=$(api '{"jsonrpc":"2.0","method":"user.login","params":{"username":"Admin","password":"zabbix"},"id":1}' 2>/dev/null || true)
      [[ $r == *'"result":"'* ]] && { ok_web=1; phase_done "frontend/API ready"; }
    fi
    ((ok_srv && ok_web)) && return 0
    sleep 0.2
  done
  tail -n 5 "$S/zabbix_server.log" >&2 2>/dev/null || true
  die "not ready after ${ZBX_READY_TIMEOUT}s (logs in $S; processes left running: '$0 stop')"
}

print_banner() {
  log "Zabbix $(dpkg-query -W -f='${Version}' zabbix-server-pgsql) up; state/logs: $S"
  echo "API:      $API_URL"
  echo "Login:    Admin / zabbix"
  echo "Trapper:  127.0.0.1:$ZBX_PORT (zabbix_sender protocol)"
}

print_env() {
  cat <<ENV
export ZABBIX_API_URL=$API_URL
export ZABBIX_USER=Admin
export ZABBIX_PASSWORD=zabbix
export ZABBIX_SERVER_HOST=127.0.0.1
export ZABBIX_SERVER_PORT=$ZBX_PORT
ENV
}

# ---------------------------------------------------------------- 6. stop
# stop_one NAME PATTERN SIGNAL [group]: signal the recorded PID (with "group": its whole process
# group; each was started under setsid, so the group is that process and its children), wait up
# to 30s, then SIGKILL its group. zabbix_server's children ignore SIGTERM; its main process stops them.
stop_one() {
  local name=$1 pat=$2 sig=$3 grp=${4:-} pid i
  if pid_alive "$name" "$pat"; then
    pid=$(<"$S/$name.pid")
    if [[ -n $grp ]]; then kill "-$sig" -- "-$pid"; else kill "-$sig" "$pid"; fi
    for ((i = 0; i < 300; i++)); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then
      log "$name ($pid) did not exit, SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$S/$name.pid"
}

do_stop() {
  stop_one php "-S 127.0.0.1:" TERM group  # php -S parent + its worker processes
  stop_one zabbix_server zabbix_server TERM
  stop_one postgres "$PGDATA" INT        # SIGINT = PostgreSQL "fast" shutdown
}

do_resetdb() {
  if ! pid_alive postgres "$PGDATA" || [[ ! -f $S/db.imported ]]; then die "not running; use: $0 start"; fi
  stop_one zabbix_server zabbix_server TERM
  psql_su -U postgres -d postgres -c "DROP DATABASE IF EXISTS zabbix WITH (FORCE)" \
    -c "CREATE DATABASE zabbix OWNER zabbix TEMPLATE zabbix_pristine"
  phase_done "db reset from pristine"
  start_server; start_web; wait_ready      # start_web is a no-op when php -S is still up
}

do_status() {
  local n p rc=0
  for n in postgres zabbix_server php; do
    case $n in postgres) p=$PGDATA ;; zabbix_server) p=zabbix_server ;; php) p="-S 127.0.0.1:" ;; esac
    if pid_alive "$n" "$p"; then echo "$n running (pid $(<"$S/$n.pid"))"; else echo "$n not running"; rc=1; fi
  done
  return $rc
}

case ${1:-start} in
  start)
    [[ $(id -u) = 0 ]] || die "run as root"
    install_pkgs; start_pg; init_db; start_server; start_web; wait_ready
    print_banner ;;
  stop) do_stop ;;
  reset)
    do_stop
    if [[ -d $S ]]; then   # delete only a dir that looks like ours
      [[ $S != / && ( -e $S/pg || -e $S/zabbix_server.conf || -e $S/apt.log ) ]] || die "$S: not a zabbix.sh state dir"
      rm -rf "$S"; log "removed $S"
    fi ;;
  resetdb) do_resetdb; print_banner ;;
  status) do_status ;;
  stop-server) stop_one zabbix_server zabbix_server TERM ;;
  start-server)
    [[ $(id -u) = 0 ]] || die "run as root"
    pid_alive postgres "$PGDATA" && [[ -f $S/db.imported ]] || die "PostgreSQL not running; use: $0 start"
    start_server; start_web; wait_ready ;;
  reload) /usr/sbin/zabbix_server -c "$CONF" -R config_cache_reload ;;
  env) print_env ;;
  *) die "usage: $0 [start|stop|reset|resetdb|status|stop-server|start-server|reload|env]" ;;
esac
