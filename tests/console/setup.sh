#!/usr/bin/env bash
# Installs playwright-core (pinned), which console_e2e.mjs uses to drive Debian's Chromium,
# into DIR/node. No browser is downloaded: the test uses /usr/bin/chromium.
# Idempotent: a second run with the same DIR installs nothing.
#
#   tests/console/setup.sh DIR
set -euo pipefail

VERSION="1.65.1"
PKG="playwright-core@$VERSION"

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DIR   (DIR receives node/node_modules/playwright-core)" >&2
  exit 64
fi
command -v npm >/dev/null 2>&1 || { echo "setup.sh: npm is missing (Debian: apt-get install nodejs npm)" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "setup.sh: node is missing (Debian: apt-get install nodejs)" >&2; exit 1; }

mkdir -p "$1"
DIR="$(cd "$1" && pwd)"
MANIFEST="$DIR/node/node_modules/playwright-core/package.json"

if [ -f "$MANIFEST" ] && [ "$(node -p "require('$MANIFEST').version" 2>/dev/null)" = "$VERSION" ]; then
  echo "setup.sh: $PKG already in $DIR/node"
else
  echo "setup.sh: npm install --prefix $DIR/node $PKG"
  mkdir -p "$DIR/node"
  # playwright-core has no install script and downloads no browser.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR/node" --no-audit --no-fund \
    --loglevel=error "$PKG"
fi
echo "setup.sh: ready: CG_CONSOLE_NODE_DIR=$DIR/node"
