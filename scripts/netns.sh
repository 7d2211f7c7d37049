#!/usr/bin/env bash
# netns.sh: throwaway test networks made of Linux network namespaces on one bridge (run as root).
#
#   scripts/netns.sh up PREFIX N [SEGMENT...]   namespaces PREFIX0..PREFIX{N-1} on bridge PREFIXbr
#   scripts/netns.sh down PREFIX                delete them (and their processes, veths, the bridge)
#   scripts/netns.sh check                      exit 0 if this machine can make namespaces, else 1
#
# up: bridge PREFIXbr in the root namespace (no IP, multicast snooping off so multicast floods to
# every port without an IGMP querier, bridge netfilter off so a host firewall cannot drop bridged
# frames). Namespace i gets a veth pair: root end PREFIXv<i> on the bridge, namespace end eth0 with
# 10.199.S.(10+i)/16, where S is the i-th SEGMENT (default 0), and the route 224.0.0.0/4 dev eth0.
# Every segment shares the bridge and the /16, so hosts in different /24 "segments" still reach
# each other directly. Prints one line "NAMESPACE ADDRESS" per namespace on stdout.
# Addresses in 10.199.0.0/16 exist only inside these namespaces: nothing is routed to them from
# the root namespace and nothing here sends anywhere else.
#
# Idempotent: up on an existing topology brings it to the described state; down on a missing one
# does nothing. down matches namespaces named PREFIX followed by digits only, so use prefixes that
# end in a letter (rwt123n, not rwt123) to keep one prefix from matching another's namespaces.
# Interface names must fit in 15 characters: PREFIX plus "br", "v<i>" and "p<i>".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
apt_install iproute2

usage() { sed -n '2,6p' "$0" >&2; exit 2; }

need_root() { [[ $(id -u) == 0 ]] || die "netns.sh must run as root (network namespaces)"; }

check_prefix() {
  local prefix=$1 n=${2:-1}
  [[ $prefix =~ ^[a-z][a-z0-9]*$ ]] || die "prefix '$prefix' must be lower-case letters and digits, starting with a letter"
  local longest="${prefix}v$((n - 1))"
  ((${#prefix} + 2 <= 15 && ${#longest} <= 15)) || die "prefix '$prefix' is too long: interface names (e.g. $longest) must be at most 15 characters"
}

# namespaces of PREFIX (PREFIX followed by digits), one a line
namespaces_of() {
  ip netns list | awk '{print $1}' | grep -E "^$1[0-9]+\$" || true
}

# root-namespace links PREFIXv<i> / PREFIXp<i> left over (e.g. by an interrupted up)
veths_of() {
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^$1[vp][0-9]+\$" || true
}

# no_ipv6 NS IF: no IPv6 (no link-local address, no router solicitations) on IF; NS "" = root
no_ipv6() {
  local f="/proc/sys/net/ipv6/conf/$2/disable_ipv6"
  if [[ -z $1 ]]; then
    [[ ! -e $f ]] || echo 1 >"$f"
  else
    ip netns exec "$1" sh -c "[ ! -e $f ] || echo 1 >$f"
  fi
}

cmd_up() {
  (($# >= 2)) || usage
  local prefix=$1 n=$2
  shift 2
  local segments=("$@")
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 200)) || die "N must be a number 1..200 (got '$n')"
  ((${#segments[@]} <= n)) || die "more segment indexes (${#segments[@]}) than namespaces ($n)"
  local s
  for s in "${segments[@]}"; do
    [[ $s =~ ^[0-9]+$ ]] && ((s <= 255)) || die "segment index must be 0..255 (got '$s')"
  done
  check_prefix "$prefix" "$n"

  local br="${prefix}br"
  ip link show "$br" >/dev/null 2>&1 || ip link add "$br" type bridge
  # flood multicast (no querier here), forward at once, keep the host's firewall out of the bridge
  ip link set "$br" type bridge mcast_snooping 0 stp_state 0 forward_delay 0 \
    nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0
  no_ipv6 "" "$br"
  ip link set "$br" up

  local i ns veth peer seg addr
  for ((i = 0; i < n; i++)); do
    ns="${prefix}${i}" veth="${prefix}v${i}" peer="${prefix}p${i}"
    seg=${segments[i]:-0}
    addr="10.199.${seg}.$((10 + i))"
    [[ -e /run/netns/$ns ]] || ip netns add "$ns"
    if ! ip netns exec "$ns" ip link show eth0 >/dev/null 2>&1; then
      ip link del "$peer" 2>/dev/null || true
      ip link del "$veth" 2>/dev/null || true
      ip link add "$veth" type veth peer name "$peer"
      ip link set "$peer" netns "$ns"
      ip -n "$ns" link set "$peer" name eth0
    fi
    no_ipv6 "" "$veth"
    no_ipv6 "$ns" eth0
    ip link set "$veth" master "$br"
    ip link set "$veth" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr flush dev eth0
    ip -n "$ns" addr add "$addr/16" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route replace 224.0.0.0/4 dev eth0
    echo "$ns $addr"
  done
}

cmd_down() {
  (($# == 1)) || usage
  local prefix=$1 ns pids link
  check_prefix "$prefix"
  for ns in $(namespaces_of "$prefix"); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [[ -n $pids ]]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        [[ -z $(ip netns pids "$ns" 2>/dev/null || true) ]] && break
        sleep 0.1
      done
    fi
    # deleting the namespace deletes its eth0 and with it the veth's root end
    ip netns del "$ns" 2>/dev/null || true
  done
  for link in $(veths_of "$prefix"); do ip link del "$link" 2>/dev/null || true; done
  ip link del "${prefix}br" 2>/dev/null || true
}

cmd_check() {
  if [[ $(id -u) != 0 ]]; then echo "netns.sh check: not root, cannot create network namespaces" >&2; exit 1; fi
  command -v ip >/dev/null || { echo "netns.sh check: 'ip' (iproute2) not found" >&2; exit 1; }
  local ns="rwchk$$" err
  if ! err=$(ip netns add "$ns" 2>&1); then
    echo "netns.sh check: cannot create a network namespace: $err" >&2
    exit 1
  fi
  if ! err=$(ip link add "${ns}a" type veth peer name "${ns}b" 2>&1 && ip link set "${ns}b" netns "$ns" 2>&1); then
    ip link del "${ns}a" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    echo "netns.sh check: cannot create a veth pair into a namespace: $err" >&2
    exit 1
  fi
  ip link del "${ns}a" 2>/dev/null || true
  ip netns del "$ns"
  echo "network namespaces available"
}

(($# >= 1)) || usage
cmd=$1
shift
case $cmd in
  up | down) need_root; "cmd_$cmd" "$@" ;;
  check) cmd_check "$@" ;;
  -h | --help) usage ;;
  *) usage ;;
esac
