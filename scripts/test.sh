#!/usr/bin/env bash
# test.sh: install what is missing, start what the tests need, run every test.
# Ends with the line "N passed, N failed, N skipped"; exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/install.sh
log "running tests"
set +e
npx --no-install mocha "$@"
rc=$?
set -e
exit $rc
