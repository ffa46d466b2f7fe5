#!/usr/bin/env bash
# Make sure the load balancers exist: Caddy (for `make cluster` and the cluster tests, which run the shipped
# deploy/Caddyfile.cluster in front of two instances) and, with --nginx, nginx (the tests check that the shipped
# deploy/nginx-checkin.conf is valid). Debian's packages when we are root; nothing is downloaded from elsewhere.
# Neither package starts a service here: they are only run by the tests and `make cluster`, in their own folders.
set -euo pipefail
wanted=(caddy)
if [ "${1:-}" = "--nginx" ]; then wanted+=(nginx); fi
missing=()
for program in "${wanted[@]}"; do
  if ! command -v "$program" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$program" ]; then missing+=("$program"); fi
done
if [ "${#missing[@]}" = "0" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} from the system's packages..." >&2
  apt-get update -qq >/dev/null
  # Another apt run (a colleague's make test) may hold the lock for a while: wait for it instead of failing.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  exit 0
fi
echo "Not found: ${missing[*]}. Install them (apt-get install ${missing[*]}). The cluster tests will fail without them." >&2
exit 1
