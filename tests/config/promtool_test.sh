#!/usr/bin/env bash
# The alert rules under promtool (Debian's prometheus package; scripts/lib/common.sh installs it):
# `promtool check rules` on every rule file of config/prometheus and `promtool test rules` on every
# test file of config/prometheus/tests. Fails on any error, and when promtool is missing: a
# missing tool is no verdict, and this test does not skip (tests/skips.allow does not list it).
#
#   promtool_test.sh            PROMTOOL overrides the promtool found on PATH
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
promtool=${PROMTOOL:-$(command -v promtool || true)}
if [ -z "$promtool" ] || [ ! -x "$promtool" ]; then
  echo "FAIL: promtool not found (install Debian's prometheus package: scripts/test does it)"
  exit 1
fi
"$promtool" --version 2>&1 | head -1
shopt -s nullglob
rules=("$root"/config/prometheus/*.rules.yml)
tests=("$root"/config/prometheus/tests/*.yml)
[ ${#rules[@]} -gt 0 ] || { echo "FAIL: no rule files in config/prometheus"; exit 1; }
[ ${#tests[@]} -gt 0 ] || { echo "FAIL: no promtool tests in config/prometheus/tests"; exit 1; }
status=0
"$promtool" check rules "${rules[@]}" || status=1
# promtool resolves rule_files relative to each test file.
"$promtool" test rules "${tests[@]}" || status=1
[ $status -eq 0 ] && echo "PASS: ${#rules[@]} rule file(s) checked, ${#tests[@]} test file(s) passed"
exit $status
