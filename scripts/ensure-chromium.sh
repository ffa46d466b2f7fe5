#!/usr/bin/env bash
# Make sure a Chromium exists for the browser tests; never downloads a browser build of its own.
set -euo pipefail
if [ -n "${CHECKIN_CHROMIUM:-}" ] && [ -x "${CHECKIN_CHROMIUM}" ]; then exit 0; fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$candidate" ]; then exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium from the system's packages for the browser tests..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "No Chromium found. Install it (apt-get install chromium) or set CHECKIN_CHROMIUM=/path/to/chrome." >&2
if [ -n "${CI:-}" ]; then exit 1; fi
echo "Browser tests will be skipped on this machine." >&2
