#!/usr/bin/env bash
# The skip gate (scripts/lib/skips.sh) against ctest output it must pass and output it must fail.
set -uo pipefail
source "$(dirname "$0")/../../scripts/lib/skips.sh"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fails=0
expect() {  # WANT(0|1) CI(""|true) NAME OUTPUT...
  local want=$1 ci=$2 name=$3; shift 3
  printf '%s\n' "$@" >"$dir/log"
  CI=$ci check_skips "$dir/log" "$dir/allow" >"$dir/out" 2>&1
  local got=$?
  if [ "$got" -ne "$want" ]; then echo "FAIL: $name: exit $got, wanted $want"; cat "$dir/out"; fails=$((fails + 1));
  else echo "ok: $name"; fi
}
printf '# comment\n^Corpus\\.\tlocal\tno corpus here\n^Net\\.V6$\tany\tno IPv6\n' >"$dir/allow"
summary=("100% tests passed, 0 tests failed out of 3" "")
expect 0 "" "no skips" "${summary[@]}" "Total Test time (real) =   1.00 sec"
expect 0 "" "allowed local skip outside CI" "${summary[@]}" "The following tests did not run:" \
  $'\t 12 - Corpus.Samples (Skipped)' "" "Total Test time (real) =   1.00 sec"
expect 1 true "local skip under CI" "${summary[@]}" "The following tests did not run:" \
  $'\t 12 - Corpus.Samples (Skipped)' "" "Total Test time (real) =   1.00 sec"
expect 0 true "allowed skip everywhere" "${summary[@]}" "The following tests did not run:" \
  $'\t  7 - Net.V6 (Skipped)' "" "Total Test time (real) =   1.00 sec"
expect 1 "" "a suite skipped because its hub did not start" "${summary[@]}" "The following tests did not run:" \
  $'\t 40 - Ingest.AcceptsValidPacket (Skipped)' $'\t 41 - Ingest.RefusesBadXml (Skipped)' "" \
  "Total Test time (real) =   1.00 sec"
expect 1 "" "a disabled test" "${summary[@]}" "The following tests did not run:" \
  $'\t  3 - Net.V6Extra (Disabled)' "" "Total Test time (real) =   1.00 sec"
expect 1 "" "one allowed, one not" "${summary[@]}" "The following tests did not run:" \
  $'\t 12 - Corpus.Samples (Skipped)' $'\t 13 - Other.Thing (Skipped)' "" "Total Test time (real) =   1.00 sec"
echo "$((7 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
