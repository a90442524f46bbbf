#!/usr/bin/env bash
# The security documents (docs/security.md and docs/security/*.md) against the repository and the
# tests ctest knows.
#
#   security_docs_test.sh [CTEST_BINARY_DIR]
#
# Fails (exit 1), naming each offender with its file, when a document names
#   * a repository path (a word starting src/, include/, tests/, config/, docs/, scripts/,
#     schemas/, docker/ or .ci/; globs allowed) that matches nothing in the repository;
#   * a test as `Suite.Name` or a suite as `Suite.*` (backquoted, the suite starting with a capital
#     letter) that `ctest -N` in CTEST_BINARY_DIR does not list;
#   * a relative link ([text](target)) whose file does not exist, or whose #anchor is no heading
#     of the Markdown file it points to.
# Test names are reduced as inventory_test.sh reduces them (a parameterised test's instance prefix
# and parameter suffix dropped). Runs `ctest -N` as that script does.
# SECURITY_DOCS overrides the documents read (a list of files); CTEST the ctest command.
set -uo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/../.." && pwd)
bindir=${1:-$PWD}
ctest_cmd=${CTEST:-ctest}
if [ -n "${SECURITY_DOCS:-}" ]; then
  read -r -a docs <<<"$SECURITY_DOCS"
else
  docs=("$root/docs/security.md" "$root"/docs/security/*.md)
fi

listing=$(cd "$bindir" && "$ctest_cmd" -N) || { echo "FAIL: '$ctest_cmd -N' failed in $bindir"; exit 1; }
tests=$(sed -nE 's/^ *Test +#[0-9]+: +([^ ]+).*$/\1/p' <<<"$listing" \
  | sed -E 's#^[^./]+/##; s#^([^/]+)/.*$#\1#' | sort -u)
[ -n "$tests" ] || { echo "FAIL: '$ctest_cmd -N' in $bindir lists no tests (not a build directory?)"; exit 1; }
suites=$(cut -d. -f1 <<<"$tests" | sort -u)

fails=0 paths=0 names=0 links=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# GitHub's anchors for the headings of a Markdown file: lower case, punctuation dropped, spaces
# to hyphens (code fences skipped).
anchors() {
  awk '/^```/ { fence = !fence; next } !fence && /^#+ / { sub(/^#+ +/, ""); print }' "$1" \
    | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'
}

for doc in "${docs[@]}"; do
  [ -r "$doc" ] || { fail "cannot read $doc"; continue; }
  rel=${doc#"$root"/}
  dir=$(dirname "$doc")

  # Repository paths, wherever they stand (prose, backquotes, code blocks).
  while read -r p; do
    [ -n "$p" ] || continue
    p=${p%%[.,;:)]}; p=${p%%[.,;:)]}
    case $p in *'<'* | *'>'* | *'{'* | *'$'* | *'...'*) continue ;; esac
    paths=$((paths + 1))
    # shellcheck disable=SC2086  # the path may be a glob
    compgen -G "$root/$p" >/dev/null || fail "$rel names $p, which is not in the repository"
  done < <(grep -oE '(^|[^A-Za-z0-9_./~-])(src|include|tests|config|docs|scripts|schemas|docker|\.ci)/[A-Za-z0-9_./*<>{}$-]*' "$doc" \
    | sed -E 's#^[^a-z.]##' | sort -u)

  # Tests and suites, backquoted.
  # shellcheck disable=SC2016  # the backquotes are literal
  while read -r n; do
    [ -n "$n" ] || continue
    names=$((names + 1))
    case $n in
      *.\*) grep -qxF "${n%%.*}" <<<"$suites" || fail "$rel names $n, but ctest knows no suite ${n%%.*}" ;;
      *) grep -qxF "$n" <<<"$tests" || fail "$rel names $n, but ctest knows no such test" ;;
    esac
  done < <(grep -oE '`[A-Z][A-Za-z0-9_]*\.([A-Za-z_][A-Za-z0-9_]*|\*)`' "$doc" | tr -d '`' \
    | grep -vE '\.(md|txt|sql|cpp|hpp|sh|yaml|yml|json|pem|crt|key|tsv|cmake|service|conf)$' | sort -u)

  # Relative links and their anchors.
  while read -r target; do
    [ -n "$target" ] || continue
    case $target in http://* | https://* | mailto:*) continue ;; esac
    links=$((links + 1))
    file=${target%%#*} anchor=
    [[ $target == *'#'* ]] && anchor=${target#*#}
    if [ -z "$file" ]; then path=$doc; else path=$dir/$file; fi
    if [ ! -e "$path" ]; then fail "$rel links to $target, but $file does not exist"; continue; fi
    if [ -n "$anchor" ] && [[ $path == *.md ]] && ! anchors "$path" | grep -qxF "$anchor"; then
      fail "$rel links to $target, but $(basename "$path") has no heading #$anchor"
    fi
  done < <(grep -oE '\]\([^) ]+\)' "$doc" | sed -E 's/^\]\(//; s/\)$//' | sort -u)
done

echo "${#docs[@]} documents: $paths paths, $names test names, $links links checked, $fails problem(s)"
[ "$fails" -eq 0 ]
