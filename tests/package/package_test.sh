#!/usr/bin/env bash
# The Debian package (tier `package`; cmake/packaging.cmake, packaging/):
#
#   package_test.sh BUILD_DIR SOURCE_DIR VERSION
#
# Builds the .deb with cpack from BUILD_DIR (after the build: it packages what is built), runs
# lintian on it (an E: line fails), unpacks it into a scratch root with dpkg-deb (no root needed,
# nothing installed on this machine) and checks: the files and their places, DEBIAN/conffiles,
# `cjhub --version`, `cjhub check-config` on the installed configuration with its schema paths
# pointed into the scratch root, one manual page per command `cjhub --help` lists (walked here,
# at every level) that renders without warnings and names every option of its command's help, the
# bash completion against the unpacked binary, and the maintainer scripts: `sh -n`, then run with
# every command they call replaced by a stub that only records the call (fresh install, upgrade,
# remove, purge). Fails, never skips, when a tool is missing.
set -uo pipefail
build=$(realpath "$1"); src=$(realpath "$2"); version=$3

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
for tool in cpack lintian dpkg-deb man gzip readelf; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/lib/common.sh installs it)"; exit 1; }
done

scratch=$(mktemp -d /tmp/cjhub-package-XXXXXX)
[ -n "${CJHUB_KEEP_TEST_DIRS:-}" ] || trap 'rm -rf "$scratch"' EXIT
root=$scratch/root
control=$scratch/DEBIAN

# --- build the package -----------------------------------------------------------------------
(cd "$build" && cpack -G DEB -B "$scratch/out") >"$scratch/cpack.log" 2>&1 \
  || { cat "$scratch/cpack.log"; echo "FAIL: cpack failed"; exit 1; }
debs=("$scratch"/out/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { cat "$scratch/cpack.log"; echo "FAIL: cpack wrote no .deb"; exit 1; }
deb=${debs[0]}
arch=$(dpkg --print-architecture)
case $(basename "$deb") in
  "cjhub_${version}_$arch.deb" | "cjhub_${version}-"*"_$arch.deb") ok "built $(basename "$deb")" ;;
  *) fail "package file $(basename "$deb"), expected cjhub_${version}[-N]_$arch.deb" ;;
esac
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = cjhub ] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" || $(field Version) == "$version"-* ]] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
depends=$(field Depends)
for lib in libc6 libssl3 libpqxx libxerces-c adduser; do   # from dpkg-shlibdeps, and the postinst's
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done

# --- lintian ---------------------------------------------------------------------------------
lintian --pedantic "$deb" >"$scratch/lintian.log" 2>&1
grep -v 'running with root privileges' "$scratch/lintian.log"
if grep -q '^E: ' "$scratch/lintian.log"; then
  fail "lintian reports errors: $(grep -c '^E: ' "$scratch/lintian.log")"
else
  ok "lintian: no errors ($(grep -c '^W: ' "$scratch/lintian.log") warnings, $(grep -c '^I: ' "$scratch/lintian.log") info)"
fi

# --- unpack --------------------------------------------------------------------------------------
dpkg-deb -x "$deb" "$root" && dpkg-deb -e "$deb" "$control" || { echo "FAIL: dpkg-deb cannot unpack"; exit 1; }
bin=$root/usr/bin/cjhub
for f in usr/bin/cjhub lib/systemd/system/cjhub.service usr/lib/sysusers.d/cjhub.conf \
         usr/share/bash-completion/completions/cjhub usr/share/doc/cjhub/copyright \
         usr/share/cjhub/schemas/ciss/1.0/ciss.xsd usr/share/cjhub/config/sandbox/case-update.xml \
         etc/cjhub/cjhub.yaml etc/cjhub/agencies.yaml etc/cjhub/certification.yaml \
         usr/share/man/man1/cjhub.1.gz; do
  [ -f "$root/$f" ] || fail "/$f is not in the package"
done
[ -x "$bin" ] || fail "/usr/bin/cjhub is not executable"
readelf -S "$bin" 2>/dev/null | grep -qE '\.(debug_info|symtab)' && fail "/usr/bin/cjhub is not stripped"
cmp -s "$root/lib/systemd/system/cjhub.service" "$src/config/systemd/cjhub.service" \
  || fail "the installed unit differs from config/systemd/cjhub.service"
cmp -s "$root/usr/lib/sysusers.d/cjhub.conf" "$src/config/systemd/cjhub.sysusers.conf" \
  || fail "the installed sysusers.d file differs from config/systemd/cjhub.sysusers.conf"
if [ -f "$root/usr/share/doc/cjhub/changelog.gz" ] || [ -f "$root/usr/share/doc/cjhub/changelog.Debian.gz" ]; then
  zcat "$root"/usr/share/doc/cjhub/changelog*.gz | head -1 | grep -q "^cjhub ($(field Version))" \
    || fail "the changelog's first entry is not version $(field Version)"
else
  fail "no /usr/share/doc/cjhub/changelog.gz or changelog.Debian.gz"
fi
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$root/usr/share/doc/cjhub/copyright" \
  && grep -q '^License: Apache-2.0' "$root/usr/share/doc/cjhub/copyright" \
  || fail "copyright is not DEP-5 with License: Apache-2.0"
# Conffiles: every file under /etc is one, and every one is in the package.
etc_files=$(cd "$root" && find etc -type f | sed 's#^#/#' | sort)
listed=$(sort "$control/conffiles" 2>/dev/null)
[ -n "$listed" ] && [ "$etc_files" = "$listed" ] \
  || fail "DEBIAN/conffiles ($(echo $listed)) is not the files under /etc ($(echo $etc_files))"
ok "files, unit, sysusers.d, conffiles, copyright, changelog"

# --- the binary --------------------------------------------------------------------------------
out=$("$bin" --version 2>&1)
if [[ $out =~ ^cjhub\ $version\ .*commit\ [0-9a-f]{7,} ]]; then ok "--version: $out"
else fail "--version prints '$out', expected 'cjhub $version (commit <hex>)'"; fi

conf=$root/etc/cjhub/cjhub.yaml
grep -q '\.\./schemas' "$conf" && fail "the installed cjhub.yaml still has relative schema paths"
check_config() {  # ENV... : cjhub check-config on the installed file, as its help says to call it
  local how=("$conf")
  "$bin" check-config --help 2>/dev/null | grep -qE '^ +-c, ?--config' && how=(-c "$conf")
  env "$@" "$bin" check-config "${how[@]}"
}
inroot=(CJHUB_SCHEMA_DIR="$root/usr/share/cjhub/schemas" CJHUB_SANDBOX_TEMPLATES="$root/usr/share/cjhub/config/sandbox"
        CJHUB_TLS_DIR="$src/tests/data/config/fake-tls")
if out=$(check_config "${inroot[@]}" 2>&1); then ok "check-config on the installed cjhub.yaml: $(head -1 <<<"$out")"
else fail "check-config on the installed cjhub.yaml: $out"; fi
# Without the variable the schemas are read from /usr/share/cjhub/schemas (proved where that
# directory does not exist, i.e. the package is not installed here).
if [ ! -e /usr/share/cjhub/schemas ]; then
  out=$(check_config CJHUB_SANDBOX_TEMPLATES="${inroot[1]#*=}" CJHUB_TLS_DIR="${inroot[2]#*=}" 2>&1) \
    && fail "check-config passed without the schemas in /usr/share/cjhub/schemas"
  grep -q '/usr/share/cjhub/schemas/' <<<"$out" || fail "check-config without CJHUB_SCHEMA_DIR did not name /usr/share/cjhub/schemas: $out"
fi

# --- manual pages ------------------------------------------------------------------------------
help_of() { (exec -a cjhub "$bin" "$@" --help) 2>&1; }
subcommands_of() {
  help_of "$@" | awk '/^Subcommands:/ { on = 1; next } on && /^[^ ]/ { on = 0 }
                      on && /^  [a-z][a-z0-9-]* / { print $1 }'
}
paths=()
walk() { paths+=("$*"); local s; for s in $(subcommands_of "$@"); do walk "$@" "$s"; done; }
walk
[ ${#paths[@]} -gt 1 ] || fail "cjhub --help lists no commands"
expected=()
for p in "${paths[@]}"; do
  page="cjhub${p:+ $p}"; page=${page// /-}
  expected+=("$page.1.gz")
  f=$root/usr/share/man/man1/$page.1.gz
  [ -f "$f" ] || { fail "no manual page $page(1) for 'cjhub $p'"; continue; }
  # shellcheck disable=SC2086  # a command path is words
  help=$(help_of $p)
  text=$(LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -E UTF-8 -l "$f" 2>"$scratch/man.err")
  [ -s "$scratch/man.err" ] && fail "$page(1) renders with warnings: $(head -3 "$scratch/man.err")"
  # Every command's --help ends with examples and its exit statuses (src/app/main.cpp, footer()).
  for section in NAME SYNOPSIS DESCRIPTION EXAMPLES 'EXIT STATUS' 'SEE ALSO'; do
    grep -q "^$section" <<<"$text" || fail "$page(1) has no $section section"
  done
  grep -qE "^ +$page +- " <<<"$text" || fail "$page(1): NAME is not '$page - ...'"
  if grep -q -- '--config' <<<"$help" || [ -z "$p" ]; then
    grep -q '^ENVIRONMENT' <<<"$text" && grep -q 'CJHUB_CONFIG' <<<"$text" \
      || fail "$page(1) does not document CJHUB_CONFIG"
  fi
  # The page is the binary's current help: each of its options is on the page.
  for opt in $(grep -oE '^ +(-[A-Za-z0-9], ?)?--[a-z][a-z0-9-]*' <<<"$help" | grep -oE -- '--[a-z][a-z0-9-]*'); do
    grep -qF -- "$opt" <<<"$text" || fail "$page(1) lacks $opt, which 'cjhub $p --help' lists (stale page?)"
  done
  for s in $(subcommands_of $p); do
    grep -qE "(^|[ ,])$page-$s\(1\)" <<<"$text" || fail "$page(1) does not refer to $page-$s(1)"
  done
done
extra=$(comm -13 <(printf '%s\n' "${expected[@]}" | sort) <(ls "$root/usr/share/man/man1" | sort))
[ -z "$extra" ] || fail "manual pages of no command: $extra"
ok "${#paths[@]} manual pages, one per command, render and name every option"

# --- bash completion -----------------------------------------------------------------------------
complete_words() {  # WORDS... (the last one is completed) -> the candidates, one per line
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _cjhub
           printf "%s\n" "${COMPREPLY[@]}"' _ "$root/usr/share/bash-completion/completions/cjhub" "$bin" "$@"
}
top=$(subcommands_of | sort)
[ "$(complete_words "" | sort)" = "$top" ] || fail "completion of 'cjhub ' is not the commands of --help"
group=""; leaf=""
for p in "${paths[@]}"; do
  [ -z "$p" ] && continue
  [ -z "$group" ] && [ -n "$(subcommands_of $p)" ] && group=$p
  [ -z "$leaf" ] && [ "${p// /}" != "$p" ] && help_of $p | grep -q -- '--config' && leaf=$p
done
if [ -n "$group" ]; then
  # shellcheck disable=SC2086
  [ "$(complete_words $group "" | sort)" = "$(subcommands_of $group | sort)" ] \
    || fail "completion of 'cjhub $group ' is not its subcommands"
fi
if [ -n "$leaf" ]; then
  # shellcheck disable=SC2086
  grep -qx -- '--config' <<<"$(complete_words $leaf --con)" || fail "completion of 'cjhub $leaf --con' lacks --config"
  # shellcheck disable=SC2086
  [ "$(complete_words $leaf --config "$root/etc/cjhub/cjhub.y")" = "$root/etc/cjhub/cjhub.yaml" ] \
    || fail "completion of 'cjhub $leaf --config <path>' does not complete the file name"
else
  fail "no subcommand with --config to complete"
fi
# An option with a fixed set of values: complete them.
for p in "${paths[@]}"; do
  # shellcheck disable=SC2086
  line=$(help_of $p | grep -m1 -E '^ +--[a-z-]+ TEXT:\{[a-z,]+\}') || continue
  opt=$(grep -oE -- '--[a-z-]+' <<<"$line" | head -1); values=$(grep -oE '\{[a-z,]+\}' <<<"$line" | tr -d '{}' | tr ',' '\n' | sort)
  # shellcheck disable=SC2086
  [ "$(complete_words $p "$opt" "" | sort)" = "$values" ] || fail "completion of 'cjhub $p $opt ' is not $(echo $values)"
  break
done
ok "bash completion: commands, subcommands, options, file names, values"

# --- maintainer scripts --------------------------------------------------------------------------
for s in postinst prerm postrm; do
  [ -x "$control/$s" ] || { fail "DEBIAN/$s is missing or not executable"; continue; }
  sh -n "$control/$s" || fail "DEBIAN/$s: sh -n"
done
# Each run with PATH holding only stubs: every command a script calls is recorded, none acts (an
# unexpected command is "not found" and fails the script under set -e).
stubs=$scratch/stubs; mkdir -p "$stubs"
for c in systemd-sysusers adduser getent mkdir chown chmod rmdir dpkg-statoverride \
         deb-systemd-helper deb-systemd-invoke systemctl; do
  cat >"$stubs/$c" <<STUB
#!/bin/sh
echo "$c \$*" >>"$stubs/calls"
case "$c \$1" in
  "getent passwd") [ -f "$stubs/account" ]; exit \$? ;;          # the account exists once created
  "systemd-sysusers "*|"adduser "*) : >"$stubs/account" ;;
  "dpkg-statoverride "*) exit 1 ;;                              # no override
  "deb-systemd-helper debian-installed") [ -f "$stubs/installed" ]; exit \$? ;;
  "deb-systemd-helper --quiet") [ -f "$stubs/enabled" ]; exit \$? ;;    # was-enabled
esac
exit 0
STUB
  chmod +x "$stubs/$c"
done
run_script() {  # SCRIPT ARGS... -> the calls it made
  rm -f "$stubs/calls"; : >"$stubs/calls"
  env -i PATH="$stubs" DPKG_MAINTSCRIPT_PACKAGE=cjhub /bin/sh -e "$control/$1" "${@:2}" \
    || fail "DEBIAN/$1 $* failed with only stubs on PATH: $(tail -3 "$stubs/calls")"
  cat "$stubs/calls"
}
rm -f "$stubs/account" "$stubs/installed" "$stubs/enabled"
calls=$(run_script postinst configure)
grep -qx 'systemd-sysusers cjhub.conf' <<<"$calls" || fail "a first postinst does not run 'systemd-sysusers cjhub.conf': $calls"
grep -q '^adduser' <<<"$calls" && fail "postinst runs adduser after systemd-sysusers created the account"
grep -qE '^deb-systemd-helper enable|^deb-systemd-invoke|^systemctl (enable|start)' <<<"$calls" \
  && fail "a first installation enables or starts the hub: $calls"
mv "$stubs/systemd-sysusers" "$stubs/sysusers.off"; rm -f "$stubs/account"
calls=$(run_script postinst configure)
grep -q '^adduser --quiet --system --group .*cjhub' <<<"$calls" || fail "without systemd-sysusers, postinst does not use adduser: $calls"
mv "$stubs/sysusers.off" "$stubs/systemd-sysusers"
: >"$stubs/installed"; : >"$stubs/enabled"
calls=$(run_script postinst configure "$version~old")
grep -qx "deb-systemd-helper enable cjhub.service" <<<"$calls" || fail "an upgrade does not keep an enabled unit enabled: $calls"
rm -f "$stubs/enabled"
calls=$(run_script postinst configure "$version~old")
grep -q '^deb-systemd-helper enable' <<<"$calls" && fail "an upgrade enables a unit the admin had not enabled: $calls"
calls=$(run_script prerm upgrade "$version")
grep -q 'stop' <<<"$calls" && fail "prerm upgrade stops the hub: $calls"
calls=$(run_script postrm remove)
grep -q 'purge' <<<"$calls" && fail "postrm remove purges: $calls"
calls=$(run_script postrm purge)
grep -qx 'deb-systemd-helper purge cjhub.service' <<<"$calls" || fail "postrm purge does not purge the unit's state: $calls"
ok "maintainer scripts: sh -n; account, no enable or start on a first installation, upgrade, remove, purge"

echo "$fails problem(s)"
[ "$fails" -eq 0 ]
