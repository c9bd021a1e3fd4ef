#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing (Debian packages), then
# runs `cargo test --locked` with any arguments given, e.g. scripts/test.sh --lib.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
# The integration tests start their own redis-server on a free port.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The Redis Cluster test creates its cluster with redis-cli (Debian's redis-tools).
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
# The Akismet tests drive the real PyPI and npm clients (tests/clients/setup.sh installs them
# into target/); they need python3 with venv, node and npm.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The moderator console's browser test drives Debian's Chromium (tests/console/setup.sh
# installs playwright-core into target/; no browser is downloaded).
[ -x /usr/bin/chromium ] || missing+=(chromium)

# The label-store tests use PostgreSQL at 127.0.0.1:5432 (database `test`) and start their
# own servers with initdb and pg_ctl for the outage tests.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v "${sudo[@]:-true}" >/dev/null 2>&1; then
    echo "scripts/test.sh: the tests need ${missing[*]} (Debian package names); install them" >&2
    exit 1
  fi
  echo "scripts/test.sh: installing ${missing[*]} (Debian packages)"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A machine whose PostgreSQL is installed but not running (a fresh install): start it, with
# trust auth on loopback and a database `test`, as the CI machines run it.
if [ "$(id -u)" -eq 0 ] && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  version=$(ls /etc/postgresql | sort -n | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  grep -q '^host all all 127.0.0.1/32 trust' "$hba" 2>/dev/null ||
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" |
    grep -q 1 || psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE test' >/dev/null
fi

exec cargo test --locked "$@"
