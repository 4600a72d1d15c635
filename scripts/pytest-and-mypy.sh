#!/usr/bin/env bash
# `make test`: pytest (arguments passed on) and mypy on engine/ at the same time; fails when either fails.
#
# mypy from a cold cache takes about 106 s of CPU (1-5 s warm). It runs at a lower priority beside pytest (whose
# servers and subprocesses come first) instead of adding its time after the suite; on the clean clone it
# finished ~200 s into a 600 s suite. Its output is kept and printed after pytest's.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

mypy_log=$(mktemp)
trap 'rm -f "$mypy_log" "$mypy_log.took"' EXIT
(
  started=$SECONDS
  nice -n 10 "$VENV/bin/mypy" >"$mypy_log" 2>&1
  status=$?
  echo $((SECONDS - started)) >"$mypy_log.took"
  exit "$status"
) &
mypy_pid=$!

"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
tests=$?

wait "$mypy_pid"
types=$?
echo
echo "---- mypy on engine/ (ran alongside pytest for $(cat "$mypy_log.took") s) ----"
cat "$mypy_log"
if [ "$types" -ne 0 ]; then
  echo "make test: mypy found type errors in engine/ (above); \`make typecheck\` runs it alone." >&2
fi
[ "$tests" -eq 0 ] && [ "$types" -eq 0 ]
