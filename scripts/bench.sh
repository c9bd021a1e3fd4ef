#!/usr/bin/env bash
# In-process scoring benchmark (criterion). Writes the shared evaluation splits first.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${COMMENTGUARD_SHARED:-../shared}"
python3 "$shared/eval/make_splits.py" target/splits >/dev/null
cargo bench --bench score -- "$@"
