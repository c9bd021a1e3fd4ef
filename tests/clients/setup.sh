#!/usr/bin/env bash
# Installs the real Akismet clients that akismet_py.py and akismet_node.mjs drive, into a
# throwaway directory: DIR/venv (PyPI akismet 25.10.1) and DIR/node (npm akismet-api 6.0.0).
# Idempotent: a second run with the same DIR installs nothing.
#
#   tests/clients/setup.sh DIR
set -euo pipefail

PY_PKG="akismet==25.10.1"
NODE_PKG="akismet-api@6.0.0"

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DIR   (DIR receives venv/ and node/)" >&2
  exit 64
fi
command -v python3 >/dev/null 2>&1 || { echo "setup.sh: python3 is missing (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm is missing (Debian: apt-get install nodejs npm)" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "setup.sh: node is missing (Debian: apt-get install nodejs)" >&2; exit 1; }

mkdir -p "$1"
DIR="$(cd "$1" && pwd)"

if [ -x "$DIR/venv/bin/python" ] && "$DIR/venv/bin/python" -c 'from importlib.metadata import version; import sys; sys.exit(version("akismet") != "25.10.1")' 2>/dev/null; then
  echo "setup.sh: $PY_PKG already in $DIR/venv"
else
  if [ ! -x "$DIR/venv/bin/python" ]; then
    echo "setup.sh: python3 -m venv $DIR/venv"
    python3 -m venv "$DIR/venv" || { echo "setup.sh: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
  fi
  echo "setup.sh: pip install $PY_PKG into $DIR/venv"
  "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PY_PKG"
fi

if [ -f "$DIR/node/node_modules/akismet-api/package.json" ] && \
   [ "$(node -p "require('$DIR/node/node_modules/akismet-api/package.json').version" 2>/dev/null)" = "6.0.0" ]; then
  echo "setup.sh: $NODE_PKG already in $DIR/node"
else
  echo "setup.sh: npm install --prefix $DIR/node $NODE_PKG"
  mkdir -p "$DIR/node"
  npm install --prefix "$DIR/node" --no-audit --no-fund --loglevel=error "$NODE_PKG"
fi

echo "setup.sh: ready: python=$DIR/venv/bin/python CG_CLIENTS_DIR=$DIR"
