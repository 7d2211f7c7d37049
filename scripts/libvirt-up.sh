#!/usr/bin/env bash
# libvirt-up.sh: a throwaway libvirtd (Debian 12: libvirt 9.0, QEMU 7.2) with N tiny TCG domains,
# for system tests and benchmarks. Root only. No systemd: libvirtd is started by hand.
#
#   scripts/libvirt-up.sh start N   install what is missing, start libvirtd, make PREFIX01..PREFIXNN
#                                   running (removes our domains numbered above N); prints a summary
#   scripts/libvirt-up.sh stop      destroy + undefine our domains; stop libvirtd if this state dir
#                                   started it
#   scripts/libvirt-up.sh status    libvirtd and our domains (exit 1 if libvirtd does not answer)
#   scripts/libvirt-up.sh daemon-stop   stop libvirtd alone (SIGTERM), our domains' QEMUs keep running
#                                   (a libvirtd restart or upgrade); only the libvirtd this state dir
#                                   started; exit 1 if one of our running domains died with it
#   scripts/libvirt-up.sh daemon-start  start libvirtd again: it reattaches to the running QEMUs
#                                   (exit 1 if one of our domains is no longer running)
#
# Environment (defaults):
#   RINGWATCH_LV_STATE_DIR=/tmp/ringwatch-libvirt  disks, XML, libvirtd log and pid
#   RINGWATCH_LV_PREFIX=rwt-vm                     domain names: PREFIX01, PREFIX02, ...
#   RINGWATCH_LV_READY_TIMEOUT=60                  seconds to wait for libvirtd to answer
#   RINGWATCH_LV_PARALLEL=4                        domains started concurrently
#
# Domains have no guest OS (SeaBIOS finds nothing to boot): 64 MiB, 1-2 vCPUs, 1-2 virtio disks on
# sparse raw files, 1-2 virtio NICs on unconnected tap devices (type='ethernet': no bridge, no
# traffic leaves the machine), a virtio memballoon. ACPI reboot/shutdown are accepted but do nothing.
# Domains are ours by name prefix, so two prefixes (e.g. a test and a benchmark) can share one
# libvirtd; `stop` stops libvirtd only from the state dir that started it and only when no other
# prefix's domains are running (shut-off definitions stay on disk either way).
# Leaves the packages, the libvirt-qemu user and /etc/libvirt/qemu.conf in place.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export LC_ALL=C.UTF-8

URI=qemu:///system
S=${RINGWATCH_LV_STATE_DIR:-/tmp/ringwatch-libvirt}
PREFIX=${RINGWATCH_LV_PREFIX:-rwt-vm}
READY_TIMEOUT=${RINGWATCH_LV_READY_TIMEOUT:-60}
PARALLEL=${RINGWATCH_LV_PARALLEL:-4}
MEM_MIB=64
DISK_MIB=16
QEMU_CONF=/etc/libvirt/qemu.conf
# never libvirt-daemon-system: it pulls systemd in as init. libvirt-clients is virsh.
PKGS=(qemu-system-x86 libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)
# tap names must be unique on the machine and at most 15 characters; "vnet*" names are libvirt's
# own and get replaced. A short hash of the prefix keeps two prefixes apart: rwl<4 hex><nnn>n<k>.
TAP=rwl$(printf '%s' "$PREFIX" | cksum | awk '{printf "%04x", $1 % 65536}')

[[ $PREFIX =~ ^[a-zA-Z][a-zA-Z0-9_-]*$ ]] || die "RINGWATCH_LV_PREFIX must be letters, digits, - and _"

vsh() { virsh -q -c "$URI" "$@"; }
# alive: the PID exists and is not a zombie (PID 1 here reaps orphans late; a zombie is dead)
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [[ $st != Z* ]]; }
is_libvirtd() { alive "$1" && [[ $(readlink "/proc/$1/exe" 2>/dev/null) == */libvirtd ]]; }
# ours: the libvirtd this state dir started is still alive (checks the exe: PIDs get reused)
ours() { [[ -s $S/libvirtd.pid ]] && is_libvirtd "$(<"$S/libvirtd.pid")"; }
answers() { command -v virsh >/dev/null && timeout 5 virsh -c "$URI" version >/dev/null 2>&1; }
# our domains (defined or transient), sorted by number
our_domains() { vsh list --all --name 2>/dev/null | grep -E "^${PREFIX}[0-9]+\$" | sort -V || true; }
name_of() { printf '%s%02d' "$PREFIX" "$1"; }

# ---------------------------------------------------------------- setup
# The QEMU driver does not load ("Failed to parse user 'libvirt-qemu'") unless this user exists,
# even though QEMU runs as root below.
make_user() {
  getent group kvm >/dev/null || groupadd -r kvm
  getent passwd libvirt-qemu >/dev/null && return 0
  if getent group libvirt-qemu >/dev/null; then
    useradd -r -g libvirt-qemu -G kvm -M -s /usr/sbin/nologin libvirt-qemu
  else
    useradd -r -U -G kvm -M -s /usr/sbin/nologin libvirt-qemu
  fi
}

# write_qemu_conf: exit 0 if the file changed (a running libvirtd must then be restarted)
write_qemu_conf() {
  local want
  want=$(cat <<'EOF'
# written by ringwatch scripts/libvirt-up.sh: a test machine without systemd or AppArmor
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
# guest stdout/stderr to /var/log/libvirt/qemu/NAME.log directly: no virtlogd needed
stdio_handler = "file"
EOF
)
  [[ -f $QEMU_CONF && $(<"$QEMU_CONF") == "$want" ]] && return 1
  # keep a foreign config once, so it can be put back by hand
  [[ -f $QEMU_CONF ]] && ! grep -q 'ringwatch' "$QEMU_CONF" && cp -n "$QEMU_CONF" "$QEMU_CONF.before-ringwatch"
  mkdir -p "$(dirname "$QEMU_CONF")"
  printf '%s\n' "$want" >"$QEMU_CONF"
}

# ---------------------------------------------------------------- libvirtd
start_libvirtd() {
  local pid i
  if ours; then log "libvirtd running (pid $(<"$S/libvirtd.pid"))"; return 0; fi
  rm -f "$S/libvirtd.pid"
  if answers; then log "using a libvirtd this state dir did not start (stop leaves it running)"; return 0; fi
  [[ -f $S/libvirtd.log ]] && mv -f "$S/libvirtd.log" "$S/libvirtd.log.1"
  rm -f /run/libvirtd.pid   # stale: nothing answers
  # setsid: its own session, so it outlives the caller's process group (a test runner's Ctrl-C).
  # Expected noise in its log: dnsmasq, D-Bus and DMI errors.
  # Every other descriptor is closed first: a daemon that inherits one keeps what it stands for
  # (a caller's `flock` held on a lock file stayed held for as long as libvirtd ran).
  (
    for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done
    exec setsid /usr/sbin/libvirtd </dev/null >>"$S/libvirtd.log" 2>&1
  ) &
  pid=$!
  # setsid forks when the caller is a group leader, so $! may not be libvirtd: use its pidfile
  for ((i = 0; i < 50; i++)); do
    if [[ -s /run/libvirtd.pid ]] && is_libvirtd "$(</run/libvirtd.pid)"; then pid=$(</run/libvirtd.pid); break; fi
    sleep 0.1
  done
  echo "$pid" >"$S/libvirtd.pid"
  log "started libvirtd (pid $pid, log $S/libvirtd.log)"
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    answers && return 0
    if [[ -s $S/libvirtd.pid ]] && ! ours; then
      tail -n 20 "$S/libvirtd.log" >&2 || true
      die "libvirtd exited at start (log: $S/libvirtd.log)"
    fi
    sleep 0.2
  done
  die "libvirtd did not answer within ${READY_TIMEOUT}s (log: $S/libvirtd.log)"
}

stop_libvirtd() {
  local pid i
  ours || { rm -f "$S/libvirtd.pid"; return 0; }
  pid=$(<"$S/libvirtd.pid")
  kill -TERM "$pid"
  for ((i = 0; i < 150; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then log "libvirtd ($pid) still alive after 15 s: SIGKILL"; kill -KILL "$pid"; fi
  rm -f "$S/libvirtd.pid"
  log "stopped libvirtd (pid $pid)"
}

# ---------------------------------------------------------------- domains
# shape of domain i: vCPUs, disks and NICs each 1 or 2, through all 8 combinations
nvcpu() { echo $((1 + ($1 - 1) % 2)); }
ndisk() { echo $((1 + ($1 - 1) / 2 % 2)); }
nnic() { echo $((1 + ($1 - 1) / 4 % 2)); }

domain_xml() { # domain_xml I
  local i=$1 name d k devs=(vda vdb)
  name=$(name_of "$i")
  cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$MEM_MIB</memory>
  <vcpu>$(nvcpu "$i")</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_reboot>restart</on_reboot>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
EOF
  for ((d = 0; d < $(ndisk "$i"); d++)); do
    cat <<EOF
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$S/disks/$name-$d.raw'/>
      <target dev='${devs[d]}' bus='virtio'/>
    </disk>
EOF
  done
  for ((k = 0; k < $(nnic "$i"); k++)); do
    cat <<EOF
    <interface type='ethernet'>
      <target dev='$TAP$(printf '%03d' "$i")n$k'/>
      <model type='virtio'/>
    </interface>
EOF
  done
  cat <<EOF
    <memballoon model='virtio'/>
  </devices>
</domain>
EOF
}

# remove NAME...: destroy + undefine, in parallel (each destroy waits ~2 s for the QEMU zombie)
remove() {
  local name pids=()
  for name; do
    { vsh destroy "$name" >/dev/null 2>&1 || true; vsh undefine "$name" >/dev/null 2>&1 || true; } &
    pids+=($!)
  done
  ((${#pids[@]} == 0)) || wait "${pids[@]}"   # not a bare wait: libvirtd may be our child
}

make_domains() {
  local n=$1 i d name st stale=() tostart=() made=0 kept=0
  mkdir -p "$S/disks" "$S/xml"
  # ours numbered above N, or made from another state dir (their disks are elsewhere): remove
  for name in $(our_domains); do
    i=$((10#${name#"$PREFIX"}))
    if ((i > n || i < 1)) || ! vsh dumpxml "$name" 2>/dev/null | grep -qF "file='$S/disks/"; then stale+=("$name"); fi
  done
  if ((${#stale[@]})); then log "removing ${stale[*]}"; remove "${stale[@]}"; fi
  for ((i = 1; i <= n; i++)); do
    name=$(name_of "$i")
    domain_xml "$i" >"$S/xml/$name.xml.new"
    for ((d = 0; d < $(ndisk "$i"); d++)); do
      [[ -f $S/disks/$name-$d.raw ]] || truncate -s "${DISK_MIB}M" "$S/disks/$name-$d.raw"
    done
    if st=$(vsh domstate "$name" 2>/dev/null) && cmp -s "$S/xml/$name.xml.new" "$S/xml/$name.xml"; then
      kept=$((kept + 1))
    else
      # unknown, or defined from other XML: (re)define
      [[ -n $st ]] && remove "$name"
      mv -f "$S/xml/$name.xml.new" "$S/xml/$name.xml"
      vsh define "$S/xml/$name.xml" >/dev/null || die "virsh define $name failed (log: $S/libvirtd.log)"
      made=$((made + 1)); st="shut off"
    fi
    rm -f "$S/xml/$name.xml.new"
    [[ $st == running ]] || tostart+=("$name")
  done
  # paused ones are resumed, shut off ones started; the first define takes ~4 s (capabilities probe)
  if ((${#tostart[@]})); then
    for name in "${tostart[@]}"; do
      if [[ $(vsh domstate "$name" 2>/dev/null) == paused ]]; then vsh resume "$name" >/dev/null; else echo "$name"; fi
    done | xargs -r -P "$PARALLEL" -n 1 virsh -q -c "$URI" start >/dev/null \
      || die "some domains did not start (logs: $S/libvirtd.log, /var/log/libvirt/qemu/)"
  fi
  log "domains: $made defined, $kept kept, ${#tostart[@]} started"
}

# one line per domain from a single bulk domstats call
summary() {
  local names
  names=$(our_domains)
  [[ -n $names ]] || { echo "no ${PREFIX}* domains"; return 0; }
  # shellcheck disable=SC2086  # one argument per name
  vsh domstats --raw --state --vcpu --block --interface $names | awk '
    /^Domain:/ { gsub(/[\x27:]/, "", $2); d = $2; order[++n] = d; next }
    /state.state=/ { split($1, a, "="); st[d] = a[2] == 1 ? "running" : a[2] == 3 ? "paused" : a[2] == 5 ? "shutoff" : "state" a[2] }
    /vcpu.current=/ { split($1, a, "="); vc[d] = a[2] }
    /block.count=/ { split($1, a, "="); bl[d] = a[2] }
    /net.count=/ { split($1, a, "="); nt[d] = a[2] }
    END {
      printf "%-12s %-8s %5s %5s %5s\n", "domain", "state", "vcpus", "disks", "nics"
      for (i = 1; i <= n; i++) { d = order[i]; printf "%-12s %-8s %5s %5s %5s\n", d, st[d], vc[d], bl[d], nt[d] }
    }'
}

# ---------------------------------------------------------------- commands
do_start() {
  local n=$1
  mkdir -p "$S"
  apt_install "${PKGS[@]}"
  make_user
  if write_qemu_conf; then
    log "wrote $QEMU_CONF"
    if ours; then log "qemu.conf changed: restarting libvirtd"; stop_libvirtd; fi
  fi
  start_libvirtd
  wait_ready
  make_domains "$n"
  summary
}

do_stop() {
  local name f pid mine=() others
  # definitions or QEMU processes of ours left but no libvirtd (e.g. it was killed): start one to clean up
  if ! answers && [[ -x /usr/sbin/libvirtd ]] \
     && compgen -G "/etc/libvirt/qemu/$PREFIX[0-9]*.xml" >/dev/null; then
    log "libvirtd not running but ${PREFIX}* domains are defined: starting it to clean up"
    mkdir -p "$S"; start_libvirtd; wait_ready
  fi
  if answers; then
    mapfile -t mine < <(our_domains)
    remove "${mine[@]}"
    log "removed ${#mine[@]} domains"
    # another prefix's domains running on this libvirtd: it is still in use. Domains merely defined
    # (a benchmark's, shut off) do not count: their definitions outlive libvirtd, and a libvirtd
    # kept for them would be one the next lab cannot stop (daemon-stop stops only its own).
    others=$(vsh list --state-running --name 2>/dev/null | grep -c . || true)
    if ((others > 0)) && ours; then log "libvirtd left running: $others other running domains on it"
    else stop_libvirtd; fi
  else
    rm -f "$S/libvirtd.pid"
  fi
  # QEMU outlives a killed libvirtd: kill our domains' QEMUs still alive, found by libvirt's pidfiles
  for f in /run/libvirt/qemu/"$PREFIX"[0-9]*.pid; do
    [[ -s $f ]] || continue
    pid=$(<"$f")
    if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "guest=$(basename "$f" .pid)"; then
      log "killing orphan QEMU $pid ($(basename "$f" .pid))"; kill -KILL "$pid"
    fi
  done
  rm -rf "$S/disks" "$S/xml"
}

# our domains' QEMU processes, by libvirt's pidfiles (they exist while libvirtd is down)
our_qemus() {
  local f pid
  for f in /run/libvirt/qemu/"$PREFIX"[0-9]*.pid; do
    [[ -s $f ]] || continue
    pid=$(<"$f")
    alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "guest=$(basename "$f" .pid)" && echo "$pid"
  done
  return 0
}

do_daemon_stop() {
  local before after
  ours || die "no libvirtd started from $S is running (daemon-stop stops only its own)"
  before=$(our_qemus | wc -l)
  stop_libvirtd
  after=$(our_qemus | wc -l)
  ((after == before)) || die "$((before - after)) of $before ${PREFIX}* QEMU processes died with libvirtd"
  log "libvirtd stopped; $after ${PREFIX}* QEMU processes still running"
}

do_daemon_start() {
  local n running
  start_libvirtd
  wait_ready
  n=$(our_domains | wc -l)
  running=$(vsh list --state-running --name 2>/dev/null | grep -cE "^${PREFIX}[0-9]+\$" || true)
  ((running == n)) || die "libvirtd reattached $running of $n ${PREFIX}* domains"
  log "libvirtd started; it reattached $running running ${PREFIX}* domains"
}

do_status() {
  if ours; then echo "libvirtd running (pid $(<"$S/libvirtd.pid"), started from $S)"
  elif answers; then echo "libvirtd answering (not started from $S)"
  else echo "libvirtd not running"; return 1; fi
  summary
}

case ${1:-} in
  start)
    [[ $(id -u) == 0 ]] || die "libvirt-up.sh start must run as root"
    [[ ${2:-} =~ ^[0-9]+$ ]] && (($2 <= 999)) || die "usage: $0 start N (0..999)"
    do_start "$((10#$2))" ;;
  stop)
    [[ $(id -u) == 0 ]] || die "libvirt-up.sh stop must run as root"
    do_stop ;;
  status) do_status ;;
  daemon-stop)
    [[ $(id -u) == 0 ]] || die "libvirt-up.sh daemon-stop must run as root"
    do_daemon_stop ;;
  daemon-start)
    [[ $(id -u) == 0 ]] || die "libvirt-up.sh daemon-start must run as root"
    mkdir -p "$S"; do_daemon_start ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
