#!/usr/bin/env bash
# The programs `make test` needs besides Python and its packages: node 20 or later and npm (the
# CloudFront Function's tests, and the cold-start benchmark's Node + sharp peer), redis-server
# (the cache's tests) and chromium (the playground's browser test).
# On Debian and Ubuntu, what is missing is installed from the distribution's packages when this
# user may (root, or sudo without a password). Otherwise it stops at once with one line per
# missing program saying how to get it, rather than letting a test fail on it later.
set -uo pipefail

declare -A package=([node]=nodejs [npm]=npm [redis-server]=redis-server [chromium]=chromium)
declare -A how_to_get=(
  [node]="node: Node.js 20 or later, from your package manager (nodejs) or https://nodejs.org"
  [npm]="npm: from your package manager (npm; NodeSource's nodejs includes it) or https://nodejs.org"
  [redis-server]="redis-server: Redis 6 or later, from your package manager (redis-server, redis) or https://redis.io/downloads"
  [chromium]="chromium: a Chromium named 'chromium' on PATH, from your package manager (Debian: chromium)"
)

missing() {
  local program
  for program in node npm redis-server chromium; do
    if [ "$program" = node ] && command -v node >/dev/null; then
      # sharp, in the cold-start benchmark, needs Node.js 20 (Debian 12's own is 18)
      node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || echo node
      continue
    fi
    command -v "$program" >/dev/null || echo "$program"
  done
}

mapfile -t absent < <(missing)
[ ${#absent[@]} -eq 0 ] && exit 0

# An empty array reads as unset in "${sudo+set}", so whether apt-get may run is its own flag.
may_install=false
sudo=()
if command -v apt-get >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    may_install=true
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    may_install=true
    sudo=(sudo -n)
  fi
fi
if $may_install; then
  packages=()
  for program in "${absent[@]}"; do packages+=("${package[$program]}"); done
  echo "installing ${packages[*]} (apt-get)"
  "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
  mapfile -t absent < <(missing)
  [ ${#absent[@]} -eq 0 ] && exit 0
fi

echo "make test needs programs that are not installed, and cannot install them here:" >&2
for program in "${absent[@]}"; do echo "  ${how_to_get[$program]}" >&2; done
exit 1
