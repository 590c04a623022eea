#!/usr/bin/env bash
# Runs the Swift test suite for `make test` and, when it fails, repeats every failing test's name
# and recorded issues at the end, so a failed CI log says why without scrolling through 2,000 lines.
# Usage: scripts/run-tests.sh LOG -- COMMAND...
set -uo pipefail
log=$1; shift
[ "${1:-}" = "--" ] && shift

"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && exit 0

echo
echo "==================== make test: failures (exit $status; full log: $log) ===================="
# Swift Testing marks a failing test and each recorded issue with ✘; the lines indented under an
# issue (↳ …, or continuation lines of a multi-line message) belong to it. A test that hangs or a
# runner that crashes leaves no ✘: then the last lines of the log are what there is.
awk '
  /^✘ / { print; inside = 1; next }
  inside && /^(◇|✔|✘|􀢄|↳ Testing|Test Suite)/ { inside = 0 }
  inside && /^[[:space:]]|^↳/ { print; next }
  { inside = 0 }
' "$log" | head -n 400
if ! grep -q '^✘ ' "$log"; then
  echo "(no failing test was reported; the runner ended with status $status. Last 40 lines:)"
  tail -n 40 "$log"
fi
exit "$status"
