#!/usr/bin/env bash
# make-v1-fixture.sh [COMMIT]: rebuild test/fixtures/nanoprobe-v1.tar.gz, the compiled nanoprobe of
# the last version before host identity (HMAC-only frames, frame version 1; default 3e76081), for
# test/rolling-upgrade.test.ts. The test runs real processes of both versions and must not need git
# history (CI's clone may be shallow), so the old build is checked in; this script is how it was made.
#
# The archive holds only what `node nanoprobe/dist/src/cli.js run` loads: the .js of nanoprobe/dist/src
# and shared/dist/src, shared's .proto (read at run time), and both package.json files. Its layout:
#   nanoprobe/                       the old nanoprobe
#   node_modules/@ringwatch/shared/  the old shared, found first by the old nanoprobe's imports
# Extracted under the repo, everything else (pino, protobufjs, @ringwatch/libvirt and its native
# binding) resolves from the repo's node_modules. Deterministic: same build, same bytes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
COMMIT=${1:-3e76081}
OUT="$ROOT/test/fixtures/nanoprobe-v1.tar.gz"
work=$(mktemp -d)
tree="$work/tree"
cleanup() { git -C "$ROOT" worktree remove --force "$tree" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

git -C "$ROOT" worktree add --detach "$tree" "$COMMIT" >&2
# the build needs the repo's dependencies; its own packages point into the old tree
mkdir "$tree/node_modules" "$tree/node_modules/@ringwatch"
for e in "$ROOT"/node_modules/* "$ROOT"/node_modules/.bin; do
  b=$(basename "$e"); [[ $b == @ringwatch ]] || ln -s "$(readlink -f "$e")" "$tree/node_modules/$b"
done
for p in shared nanoprobe libvirt; do ln -s "$tree/$p" "$tree/node_modules/@ringwatch/$p"; done
log "building shared and nanoprobe at $COMMIT"
(cd "$tree" && npx --no-install tsc -b shared nanoprobe)

stage="$work/stage"
mkdir -p "$stage/nanoprobe" "$stage/node_modules/@ringwatch/shared/proto"
cp "$tree/nanoprobe/package.json" "$stage/nanoprobe/"
cp "$tree/shared/package.json" "$stage/node_modules/@ringwatch/shared/"
cp "$tree/shared/proto/"*.proto "$stage/node_modules/@ringwatch/shared/proto/"
(cd "$tree/nanoprobe" && find dist/src -name '*.js' -exec cp --parents {} "$stage/nanoprobe/" \;)
(cd "$tree/shared" && find dist/src -name '*.js' -exec cp --parents {} "$stage/node_modules/@ringwatch/shared/" \;)
echo "$(git -C "$ROOT" rev-parse "$COMMIT")" > "$stage/COMMIT"

mkdir -p "$(dirname "$OUT")"
tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -9n > "$OUT"
log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
