# The skip gate: a test that ctest reports as skipped (or not run) fails the run unless
# tests/skips.allow names it for this kind of run. Source it; `check_skips LOG ALLOW` reads
# ctest's output in LOG and returns 1 (naming the tests) on any skip the allow-list does not cover.
check_skips() {  # CTEST_LOG ALLOW_FILE
  local log=$1 allow=$2 bad=0 name line re where why allowed
  # ctest lists them after "The following tests did not run:" as "<tab> N - Name (Skipped)".
  while IFS= read -r line; do
    name=$(sed -E 's/^[[:space:]]*[0-9]+ - (.*) \(([A-Za-z ]+)\)$/\1/' <<<"$line")
    allowed=0
    while IFS=$'\t' read -r re where why; do
      case "$re" in ''|'#'*) continue ;; esac
      [ "$where" = local ] && [ -n "${CI:-}" ] && continue
      if grep -Eq -- "$re" <<<"$name"; then allowed=1; echo "skipped (allowed: $why): $name"; break; fi
    done <"$allow"
    if [ $allowed -eq 0 ]; then echo "error: skipped, and not on $allow: $name" >&2; bad=1; fi
  done < <(sed -n '/^The following tests did not run:/,/^[^[:space:]]/p' "$log" | grep -E '^[[:space:]]+[0-9]+ - ')
  return $bad
}
