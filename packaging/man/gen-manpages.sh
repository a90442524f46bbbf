#!/usr/bin/env bash
# Writes the manual pages of cjhub with help2man from the built binary's own --help:
#
#   gen-manpages.sh CJHUB_BINARY VERSION INCLUDE_DIR OUT_DIR
#
# One page per command at every level that `cjhub --help` lists, walked at run time (never a
# list kept here): cjhub(1), cjhub-dlq(1), cjhub-dlq-list(1), ... Each page is one --help run
# through help2man, so it says exactly what the binary says. Extra sections come from
# INCLUDE_DIR: common.h2m (pages whose help has no "Exit status:" paragraph), config.h2m (pages of commands that take --config, and
# cjhub(1)), cjhub.h2m (cjhub(1) only); SEE ALSO is written per page (parent, subcommands).
# OUT_DIR gets NAME.1.gz (gzip -9n) and commands.txt (one command path per line; "" is cjhub).
set -euo pipefail
bin=$(realpath "$1"); version=$2; inc=$3; out=$4
command -v help2man >/dev/null || { echo "gen-manpages: help2man is not installed" >&2; exit 1; }

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
rm -rf "$out"; mkdir -p "$out"

help_of() { (exec -a cjhub "$bin" "$@" --help); }
# The subcommands a --help lists: the first word of each indented line under "Subcommands:".
subcommands_of() {
  help_of "$@" | awk '/^Subcommands:/ { on = 1; next } on && /^[^ ]/ { on = 0 }
                      on && /^  [a-z][a-z0-9-]* / { print $1 }'
}

paths=()
walk() {  # PATH...
  paths+=("$*")
  local sub
  for sub in $(subcommands_of "$@"); do walk "$@" "$sub"; done
}
walk
printf '%s\n' "${paths[@]}" >"$out/commands.txt"

page_of() { local p="cjhub${1:+ $1}"; echo "${p// /-}"; }

for path in "${paths[@]}"; do
  # shellcheck disable=SC2206  # a command path is words without blanks
  words=($path)
  page=$(page_of "$path")
  # help2man names the page after the program it runs, and CLI11 prints argv[0] in "Usage:",
  # hence a wrapper named after the page that runs `cjhub <path>` as "cjhub". "-c,--config"
  # becomes "-c, --config", which help2man sets in bold like any option, and a help's own
  # "Exit status:" paragraph becomes the section EXIT STATUS (help2man's "*Section*").
  cat >"$work/$page" <<WRAP
#!/usr/bin/env bash
(exec -a cjhub "$bin" ${words[*]} "\$@") | sed -E -e 's/^(  +-[A-Za-z0-9]),(--)/\1, \2/' -e 's/^Exit status:\$/*Exit status*/'
WRAP
  chmod +x "$work/$page"

  help=$(help_of "${words[@]}")
  # NAME: the first line of the help, without a leading "cjhub: ", first letter in lower case
  # unless it starts an acronym.
  name=$(head -n1 <<<"$help" | sed -E 's/^cjhub: //; s/^([A-Z])([a-z])/\L\1\E\2/')

  # The general EXIT STATUS where the command's help does not list its own.
  includes=()
  grep -q '^Exit status:$' <<<"$help" || includes+=(--include="$inc/common.h2m")
  if [ -z "$path" ]; then
    includes+=(--include="$inc/cjhub.h2m" --include="$inc/config.h2m")
  elif grep -q -- '--config' <<<"$help"; then
    includes+=(--include="$inc/config.h2m")
  fi
  # SEE ALSO: cjhub(1) lists every command's page; a command names cjhub(1), its parent and its
  # subcommands.
  see=()
  if [ -z "$path" ]; then
    for p in "${paths[@]}"; do [ -n "$p" ] && see+=("$(page_of "$p")"); done
  else
    see+=(cjhub)
    [ "${#words[@]}" -gt 1 ] && see+=("$(page_of "${words[*]:0:${#words[@]}-1}")")
    for sub in $(subcommands_of "${words[@]}"); do see+=("$(page_of "$path $sub")"); done
  fi
  {
    echo "[SEE ALSO]"
    first=1
    for s in "${see[@]}"; do
      [ $first -eq 1 ] || printf ',\n'
      printf '.BR %s (1)' "$s"; first=0
    done
    [ -z "$path" ] && printf ',\n.BR systemd.service (5),\n.BR sysusers.d (5)'
    printf '\n.PP\nThe operations guide: \\fI/usr/share/doc/cjhub/operations.md.gz\\fR.\n'
  } >"$work/$page.see.h2m"
  includes+=(--include="$work/$page.see.h2m")

  help2man --no-info --no-discard-stderr --version-string="$version" --source="cjhub $version" \
    --name="$name" "${includes[@]}" --output="$work/$page.1" "$work/$page"
  # help2man fills the lines of an example into one paragraph; keep each command on its line.
  awk '/^\.S[HS]/ { if (nf) { print ".fi"; nf = 0 } ex = ($0 ~ /^\.SH EXAMPLES/) }
       ex && /^\.(IP|PP)/ { if (nf) print ".fi"; print; print ".nf"; nf = 1; next }
       { print }
       END { if (nf) print ".fi" }' "$work/$page.1" | gzip -9n >"$out/$page.1.gz"
done
echo "gen-manpages: ${#paths[@]} pages in $out"
