#!/usr/bin/env bash
# The container image's recipe, checked without a Docker engine: every base image (docker/Dockerfile
# and docker/compose.yaml) is pinned by digest, the runtime image carries the OCI annotations with
# the project's version, and its package list provides every shared library the built binary needs
# (readelf -d, each library's Debian package found with dpkg -S), so a new dependency cannot be
# forgotten in the image.
#
#   dockerfile_test.sh BINARY
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:?usage: dockerfile_test.sh BINARY}
dockerfile="$root/docker/Dockerfile"
compose="$root/docker/compose.yaml"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

digest='@sha256:[0-9a-f]{64}'
# FROM lines: a pinned reference, or an ARG whose default is one.
while read -r _ ref _; do
  if [[ "$ref" =~ ^\$\{([A-Za-z_]+)\}$ ]]; then
    arg=${BASH_REMATCH[1]}
    ref=$(sed -n "s/^ARG $arg=//p" "$dockerfile" | head -1)
    [ -n "$ref" ] || { bad "FROM \${$arg}: no ARG $arg with a default"; continue; }
  fi
  [[ "$ref" =~ $digest$ ]] || bad "FROM $ref is not pinned by digest"
done < <(grep -E '^FROM ' "$dockerfile")
grep -qE '^FROM ' "$dockerfile" || bad "no FROM line in docker/Dockerfile"
while read -r _ ref; do
  [[ "$ref" =~ $digest$ ]] || bad "compose image $ref is not pinned by digest"
done < <(grep -E '^\s+image: ' "$compose" | grep -v 'cjhub:')

# OCI annotations, and the version label defaulting to the project's VERSION.
for key in title description version revision created licenses base.name; do
  grep -q "org.opencontainers.image.$key=" "$dockerfile" || bad "no org.opencontainers.image.$key label"
done
version=$(sed -n 's/^project(cjhub VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
grep -q "^ARG CJHUB_VERSION=$version\$" "$dockerfile" || bad "ARG CJHUB_VERSION is not the project's VERSION $version"

# Every NEEDED library of the binary comes from a package the runtime stage installs (libc's and
# libstdc++'s come with the base image).
runtime=$(awk '/^FROM \$\{DEBIAN_RUNTIME\}/{on=1} on' "$dockerfile")
[ -x "$binary" ] || bad "no binary at $binary"
for lib in $(readelf -d "$binary" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
  case "$lib" in libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*|libpthread.so.*|libdl.so.*) continue ;; esac
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
  pkg=$(dpkg -S "$(readlink -f "${path:-/nonexistent}")" 2>/dev/null | head -1 | cut -d: -f1)
  [ -n "$pkg" ] || pkg=$(dpkg -S "$lib" 2>/dev/null | head -1 | cut -d: -f1)
  if [ -z "$pkg" ]; then bad "$lib: no Debian package provides it"; continue; fi
  grep -qw -- "$pkg" <<<"$runtime" || bad "$lib (package $pkg) is not installed by the runtime stage"
  echo "ok: $lib from $pkg"
done
[ $fail -eq 0 ] && echo "docker/Dockerfile: bases pinned, OCI labels present, runtime libraries complete"
exit $fail
