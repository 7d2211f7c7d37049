#!/usr/bin/env bash
# install.sh: everything ringwatch needs on a fresh Debian 12 machine, idempotent and quick when
# nothing is missing: Debian packages, npm dependencies (npm ci), the TypeScript build, demo keys.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v node >/dev/null || die "Node.js 20 or later is required (not found)"
major=$(node -p 'process.versions.node.split(".")[0]')
((major >= 20)) || die "Node.js 20 or later is required (found $(node -v))"

# build tools and libvirt headers for native addons (npm ci builds nanoprobe's libvirt binding), iproute2 for network-namespace tests
apt_install python3 make g++ pkg-config libvirt-dev iproute2 procps

# npm ci when the lockfile changed since the last install
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
log "build (tsc -b)"
npx --no-install tsc -b >&2
log "install ok"
