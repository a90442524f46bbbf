#!/usr/bin/env bash
# The test inventory in tests/README.md ("What each test proves") against the test sources: every
# suite of tests/{unit,db,e2e} must be named there (as Suite.* or Suite.Name), and every
# Suite.Name named there must be a test. INVENTORY_README and INVENTORY_SOURCES override the paths.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
readme=${INVENTORY_README:-$root/tests/README.md}
sources=${INVENTORY_SOURCES:-$root/tests}
inventory=$(sed -n '/^## What each test proves/,$p' "$readme")
[ -n "$inventory" ] || { echo "FAIL: no 'What each test proves' section in $readme"; exit 1; }
tests=$(grep -rhoE '^TEST(_F|_P)?\([A-Za-z0-9_]+, *[A-Za-z0-9_]+' "$sources"/unit "$sources"/db "$sources"/e2e \
  | sed -E 's/^TEST(_F|_P)?\(//; s/, */./' | grep -v '^BrokenHubProbe\.' | sort -u)
# Test names are `Suite.Name` or `Suite.*` with capitalised parts (file names, settings and the
# ctest-only Harness.* checks are not gtest tests).
named=$(grep -oE '`[A-Z][A-Za-z0-9_]*\.([A-Z][A-Za-z0-9_]*|\*)`' <<<"$inventory" | tr -d '`' | grep -v '^Harness\.' | sort -u)
fails=0
for t in $tests; do
  suite=${t%%.*}
  if ! grep -qxF "$t" <<<"$named" && ! grep -qxF "$suite.*" <<<"$named"; then
    echo "FAIL: $t is not in the inventory"; fails=$((fails + 1))
  fi
done
for n in $named; do
  case $n in
    *.\*) grep -q "^${n%%.*}\." <<<"$tests" || { echo "FAIL: the inventory names $n, no such suite"; fails=$((fails + 1)); } ;;
    *) grep -qxF "$n" <<<"$tests" || { echo "FAIL: the inventory names $n, no such test"; fails=$((fails + 1)); } ;;
  esac
done
echo "$(wc -w <<<"$tests") tests, $(wc -w <<<"$named") inventory names, $fails problem(s)"
[ "$fails" -eq 0 ]
