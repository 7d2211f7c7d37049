# shared helpers for the project's scripts
log() { echo "[ringwatch] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
# apt_install PKG...: install the Debian packages that are missing (apt-get update once per run)
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  if [[ -z ${RINGWATCH_APT_UPDATED:-} ]]; then
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || die "apt-get update failed"
    export RINGWATCH_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}
