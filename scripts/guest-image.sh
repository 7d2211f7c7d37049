#!/usr/bin/env bash
# guest-image.sh: a tiny real guest OS for system tests of recovery actions (reboot, reset, panic,
# watchdog) on QEMU/TCG, built from Debian packages only: Debian's kernel (linux-image-amd64) and
# an initramfs holding static busybox (busybox-static), the kernel modules the guest needs and an
# /init. Booted by libvirt's direct kernel boot (<os><kernel>/<initrd>/<cmdline>); no root disk.
#
#   scripts/guest-image.sh build DIR   write DIR/vmlinuz and DIR/initramfs.gz (idempotent: files
#                                      that would not change are left alone); prints DIR
#
# The guest (see the /init below):
# - kernel command line: rw.ip=ADDR/LEN [rw.gw=GW] configure eth0 (virtio-net); console=ttyS0
#   sends the guest's log to the serial port, and /init writes "rwguest: ..." lines there.
# - HTTP on port 80 (busybox httpd): / is "rwguest boot_id=<id>" (/proc/sys/kernel/random/boot_id),
#   new at every boot, so a test can tell that a reboot or reset happened.
# - ACPI power button (button + evdev, busybox acpid): a clean poweroff. libvirt turns that into
#   a reboot for `virsh reboot --mode acpi` (it resets the stopped guest itself).
# - a control disk: the virtio disk with serial "rwctl" holds "key=value" lines (NUL padded) that
#   the host writes into the disk's file; the guest reads it at boot and polls it every second:
#     httpd=off       the web server stops (within ~1 s) and does not start at boot; httpd=on
#                     takes effect at the next boot only: the service comes back through a reboot
#     acpi=ignore     the power button is ignored (a hung guest: a soft reboot/shutdown does nothing)
#     watchdog=on     at boot: arm the i6300esb watchdog (busybox watchdog feeds it every 2 s, 10 s timeout)
#     watchdog=starve the feeder is killed without the magic close: the watchdog fires after ~10 s
#     panic=TOKEN     a kernel panic (sysrq c) when TOKEN differs from its value at boot (pvpanic
#                     tells QEMU/libvirt); a reboot does not panic again while TOKEN is unchanged
#     agent=on        a tiny QEMU guest agent (a shell loop) on the virtio-serial port
#                     org.qemu.guest_agent.0, when the domain has that channel: it answers
#                     guest-sync and guest-sync-delimited (the id echoed), guest-ping, and
#                     guest-shutdown (mode reboot: a reboot, else a poweroff); errors for the rest
#     agent=hang      the port is held open and read, nothing answered (a hung agent)
#     agent=off       (or absent) no agent: the port stays closed. Takes effect within ~1 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export LC_ALL=C.UTF-8

# modules /init loads, in this order (each after its dependencies, resolved from modules.dep)
MODULES=(virtio_pci virtio_net virtio_blk virtio_console evdev button pvpanic-mmio i6300esb)

usage() { sed -n '7,8p' "$0" >&2; exit 2; }

# newest installed kernel that has its modules
pick_kernel() {
  local v best=
  for v in $(ls /lib/modules 2>/dev/null | sort -V); do
    [[ -f /boot/vmlinuz-$v && -f /lib/modules/$v/modules.dep ]] && best=$v
  done
  [[ -n $best ]] || die "no /boot/vmlinuz-* with /lib/modules/* (linux-image-amd64)"
  echo "$best"
}

# module_paths VER NAME...: relative .ko paths, dependencies first, each once
module_paths() {
  local ver=$1; shift
  local dep=/lib/modules/$ver/modules.dep
  declare -A seen=()
  visit() { # visit PATH
    local p=$1 d line
    [[ -n ${seen[$p]:-} ]] && return 0
    seen[$p]=1
    line=$(grep -m1 "^$p:" "$dep") || die "$p not in $dep"
    for d in ${line#*:}; do visit "$d"; done
    echo "$p"
  }
  local name p
  for name; do
    # modules.dep spells names with - or _ as the file has it
    p=$(grep -m1 -E "/(${name//[-_]/[-_]})\.ko(\.xz|\.zst|\.gz)?:" "$dep" | cut -d: -f1) \
      || die "module $name not found in $dep"
    visit "$p"
  done
}

write_init() { # write_init FILE
  cat >"$1" <<'INIT'
#!/bin/busybox sh
# rwguest /init (written by scripts/guest-image.sh): see the header of that script
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /var/log /www /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "rwguest: $*" >/dev/console; }
say "init at uptime $(cut -d' ' -f1 /proc/uptime)"
for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m" 2>/dev/null || say "insmod $m failed"
done

# control disk: the virtio disk whose serial is rwctl
CTL=
for s in /sys/block/vd*/serial; do
  [ -f "$s" ] && [ "$(cat "$s")" = rwctl ] && CTL=/dev/$(basename "$(dirname "$s")")
done
flags() { # the control disk's key=value lines, read past the page cache
  [ -n "$CTL" ] || return 0
  blockdev --flushbufs "$CTL" 2>/dev/null
  dd if="$CTL" bs=4096 count=1 2>/dev/null | tr -d '\000' | grep -E '^[a-z]+=[A-Za-z0-9._-]*$'
}
flag() { flags | sed -n "s/^$1=//p" | tail -n 1; }
say "control disk ${CTL:-none}: $(flags | tr '\n' ' ')"

# network from the kernel command line
IP= GW=
for a in $(cat /proc/cmdline); do
  case $a in rw.ip=*) IP=${a#rw.ip=} ;; rw.gw=*) GW=${a#rw.gw=} ;; esac
done
ip link set lo up
if [ -n "$IP" ]; then
  ip addr add "$IP" dev eth0 && ip link set eth0 up
  [ -n "$GW" ] && ip route add default via "$GW"
fi
say "eth0 ${IP:-unconfigured}"

# power button: a clean poweroff (libvirt restarts the guest when it asked for a reboot)
mkdir -p /etc/acpi/PWRF
cat >/etc/acpi/PWRF/00000080 <<'EOF'
#!/bin/sh
. /etc/rwguest-flags.sh
if [ "$(flag acpi)" = ignore ]; then echo "rwguest: power button ignored" >/dev/console; exit 0; fi
echo "rwguest: power button: poweroff" >/dev/console
poweroff
EOF
chmod +x /etc/acpi/PWRF/00000080
cat >/etc/rwguest-flags.sh <<EOF
CTL=$CTL
flags() { [ -n "\$CTL" ] || return 0; blockdev --flushbufs "\$CTL" 2>/dev/null; dd if="\$CTL" bs=4096 count=1 2>/dev/null | tr -d '\\000' | grep -E '^[a-z]+=[A-Za-z0-9._-]*\$'; }
flag() { flags | sed -n "s/^\$1=//p" | tail -n 1; }
EOF
acpid -c /etc/acpi -l /var/log/acpid.log
# acpid opens the input devices after it forks: wait until it holds one (at most ~2 s)
for i in 1 2 3 4 5 6 7 8 9 10; do
  ls -l /proc/$(pidof acpid)/fd 2>/dev/null | grep -q /dev/input/event && break
  sleep 0.2
done
say "acpid started"

if [ "$(flag watchdog)" = on ] && [ -c /dev/watchdog ]; then
  watchdog -T 10 -t 2 /dev/watchdog && say "watchdog armed (10 s)"
fi

# the service last: once it answers, acpid already listens (a power button press before that is lost)
BOOT_ID=$(cat /proc/sys/kernel/random/boot_id)
echo "rwguest boot_id=$BOOT_ID" >/www/index.html
start_httpd() { httpd -p 80 -h /www && say "httpd started, boot_id=$BOOT_ID"; }
[ "$(flag httpd)" = off ] && say "httpd off" || start_httpd

# busybox poweroff/reboot/halt signal PID 1 (USR2/TERM/USR1): this shell is PID 1, so it stops the
# services and powers off or reboots itself (the traps run between two sleeps of the loop below)
down() { say "$1"; killall httpd acpid watchdog 2>/dev/null; sync; "$1" -f; }
trap 'down poweroff' USR2
trap 'down poweroff' USR1
trap 'down reboot' TERM

# guest agent: one JSON command per line in, one reply per line out, on the port's device
agent_port() {
  for n in /sys/class/virtio-ports/*/name; do
    [ -f "$n" ] && [ "$(cat "$n")" = org.qemu.guest_agent.0 ] && echo "/dev/$(basename "$(dirname "$n")")"
  done
}
run_agent() { # run_agent on|hang
  P=$(agent_port)
  [ -n "$P" ] || { say "agent: no org.qemu.guest_agent.0 port"; exit 0; }
  exec 3<>"$P" || { say "agent: cannot open $P"; exit 1; }
  say "agent $1 on $P"
  # a read gives end-of-file while the host side is not connected (libvirt reconnects after the
  # port opens): keep the port open and read again
  while true; do
  while IFS= read -r line <&3; do
    [ "$1" = hang ] && continue
    id=$(echo "$line" | sed -n 's/.*"id" *: *\([0-9][0-9]*\).*/\1/p')
    case $line in
      *guest-sync-delimited*) printf '\377{"return": %s}\n' "$id" >&3 ;;
      *guest-sync*) printf '{"return": %s}\n' "$id" >&3 ;;
      *guest-ping*) printf '{"return": {}}\n' >&3 ;;
      *guest-shutdown*reboot*) say "agent: guest-shutdown reboot"; reboot ;;
      *guest-shutdown*) say "agent: guest-shutdown"; poweroff ;;
      *) printf '{"error": {"class": "CommandNotFound", "desc": "rwguest agent: not supported"}}\n' >&3 ;;
    esac
  done
  sleep 0.2
  done
}
AGENT_MODE=off AGENT_PID=
agent_apply() { # start, stop or switch the agent to the control disk's mode
  A=$(echo "$1" | sed -n 's/^agent=//p' | tail -n 1)
  case $A in on|hang) ;; *) A=off ;; esac
  [ "$A" = "$AGENT_MODE" ] && return 0
  # the port takes one opener: the old agent must be gone before the next opens it
  if [ -n "$AGENT_PID" ]; then kill -9 "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=; say "agent stopped"; fi
  AGENT_MODE=$A
  if [ "$A" != off ]; then run_agent "$A" & AGENT_PID=$!; fi
}
agent_apply "$(flags)"

PANIC0=$(flag panic)
say "ready at uptime $(cut -d' ' -f1 /proc/uptime)"
# control loop: apply runtime flags
while true; do
  sleep 1
  F=$(flags)
  agent_apply "$F"
  case "$F" in *httpd=off*) if pidof httpd >/dev/null; then killall httpd; say "httpd stopped"; fi ;; esac
  case "$F" in *watchdog=starve*) if pidof watchdog >/dev/null; then killall -9 watchdog; say "watchdog starved"; fi ;; esac
  P=$(echo "$F" | sed -n 's/^panic=//p' | tail -n 1)
  if [ "$P" != "$PANIC0" ]; then say "panic requested ($P)"; echo c >/proc/sysrq-trigger; fi
done
INIT
  chmod 755 "$1"
}

build() {
  local dir=$1 ver stage m p out
  apt_install linux-image-amd64 busybox-static
  ver=$(pick_kernel)
  mkdir -p "$dir"
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/bin" "$stage/lib/modules"
  cp /bin/busybox "$stage/bin/busybox"
  : >"$stage/lib/modules/order"
  for p in $(module_paths "$ver" "${MODULES[@]}"); do
    m=$(basename "$p")
    case $m in
      *.ko.xz) xz -dc "/lib/modules/$ver/$p" >"$stage/lib/modules/${m%.xz}"; m=${m%.xz} ;;
      *.ko.zst) zstd -qdc "/lib/modules/$ver/$p" >"$stage/lib/modules/${m%.zst}"; m=${m%.zst} ;;
      *.ko.gz) gzip -dc "/lib/modules/$ver/$p" >"$stage/lib/modules/${m%.gz}"; m=${m%.gz} ;;
      *) cp "/lib/modules/$ver/$p" "$stage/lib/modules/$m" ;;
    esac
    echo "$m" >>"$stage/lib/modules/order"
  done
  write_init "$stage/init"
  # reproducible archive: fixed times, sorted names, root owner
  find "$stage" -exec touch -h -d @0 {} +
  out=$(mktemp)
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n >"$out"
  if cmp -s "$out" "$dir/initramfs.gz"; then rm -f "$out"; else mv -f "$out" "$dir/initramfs.gz"; chmod 644 "$dir/initramfs.gz"; log "wrote $dir/initramfs.gz (kernel $ver)"; fi
  cmp -s "/boot/vmlinuz-$ver" "$dir/vmlinuz" || { cp "/boot/vmlinuz-$ver" "$dir/vmlinuz"; log "wrote $dir/vmlinuz ($ver)"; }
  echo "$dir"
}

case ${1:-} in
  build) [[ -n ${2:-} ]] || usage; build "$2" ;;
  *) usage ;;
esac
