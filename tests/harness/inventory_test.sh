#!/usr/bin/env bash
# The test inventory ("## What each test proves" in tests/README.md) against the tests ctest knows.
#
#   inventory_test.sh [CTEST_BINARY_DIR]
#
# Runs `ctest -N` in CTEST_BINARY_DIR (default: the current directory, where ctest runs a test) and
# reduces each test to Suite.Name: a parameterised test's instance prefix ("HttpClient/") and
# parameter suffix ("/Abrupt  # GetParam() = false") are dropped. The ctest-only checks of this
# directory (Harness.*) and BrokenHubProbe.* (left out of discovery, run by HarnessGate) are not
# compared. The inventory's names are the backquoted `Suite.Name` and `Suite.*` in the first cell
# of its table rows; `Suite.*` names every test of the suite. Fails (exit 1), naming each
# offender, when a test is not in the inventory, when the inventory names a test or suite ctest
# does not know, or when it names one twice.
# INVENTORY_README overrides the README read; CTEST the ctest command.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
readme=${INVENTORY_README:-$root/tests/README.md}
bindir=${1:-$PWD}
ctest_cmd=${CTEST:-ctest}
ignored='^(Harness|BrokenHubProbe)\.'

[ -r "$readme" ] || { echo "FAIL: cannot read $readme"; exit 1; }
listing=$(cd "$bindir" && "$ctest_cmd" -N) || { echo "FAIL: '$ctest_cmd -N' failed in $bindir"; exit 1; }
tests=$(sed -nE 's/^ *Test +#[0-9]+: +([^ ]+).*$/\1/p' <<<"$listing" \
  | sed -E 's#^[^./]+/##; s#^([^/]+)/.*$#\1#' | grep -Ev "$ignored" | sort -u)
[ -n "$tests" ] || { echo "FAIL: '$ctest_cmd -N' in $bindir lists no tests (not a build directory?)"; exit 1; }

section=$(awk '/^## What each test proves[[:space:]]*$/ { on = 1; next } on && /^## / { exit } on' "$readme")
[ -n "$section" ] || { echo "FAIL: no '## What each test proves' section in $readme"; exit 1; }
# First cells of the table rows; every backquoted Suite.Name or Suite.* in them.
# shellcheck disable=SC2016  # the backquotes are literal
named_all=$(awk -F'|' '/^[[:space:]]*\|/ { print $2 }' <<<"$section" \
  | grep -oE '`[A-Za-z_][A-Za-z0-9_]*\.([A-Za-z_][A-Za-z0-9_]*|\*)`' | tr -d '`' | grep -Ev "$ignored")
named=$(sort -u <<<"$named_all")
suites=$(sed 's/\..*//' <<<"$tests" | sort -u)

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
while read -r t; do
  grep -qxF "$t" <<<"$named" || grep -qxF "${t%%.*}.*" <<<"$named" || fail "$t is not in the inventory"
done <<<"$tests"
while read -r n; do
  [ -n "$n" ] || continue
  case $n in
    *.\*) grep -qxF "${n%%.*}" <<<"$suites" || fail "the inventory names $n, but ctest knows no suite ${n%%.*}" ;;
    *) grep -qxF "$n" <<<"$tests" || fail "the inventory names $n, but ctest knows no such test" ;;
  esac
done <<<"$named"
while read -r d; do
  [ -n "$d" ] && fail "the inventory names $d more than once"
done < <(sort <<<"$named_all" | uniq -d)

echo "$(wc -l <<<"$tests") tests from ctest, $(grep -c . <<<"$named") names in the inventory, $fails problem(s)"
[ "$fails" -eq 0 ]
