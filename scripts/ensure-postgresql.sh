#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries exist for the tests (they start a throwaway server of their own,
# scripts/pgcluster.py) unless $CHECKIN_TEST_DATABASE_URL names a server to use.
set -euo pipefail
if [ -n "${CHECKIN_TEST_DATABASE_URL:-}" ]; then exit 0; fi
if [ -n "${CHECKIN_PG_BINDIR:-}" ] && [ -x "${CHECKIN_PG_BINDIR}/initdb" ]; then exit 0; fi
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing PostgreSQL from the system's packages for the tests..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "No PostgreSQL server binaries found. Install them (apt-get install postgresql), set CHECKIN_PG_BINDIR," >&2
echo "or point CHECKIN_TEST_DATABASE_URL at a database the tests may empty. The PostgreSQL tests will fail." >&2
exit 1
