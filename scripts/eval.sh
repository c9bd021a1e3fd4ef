#!/usr/bin/env bash
# Quality on the shared evaluation splits: writes them with ../shared/eval/make_splits.py,
# then trains on each *-train split only and reports on its *-test split.
# Also prints the cross-validated threshold choice (training splits only).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${COMMENTGUARD_SHARED:-../shared}"
python3 "$shared/eval/make_splits.py" target/splits >/dev/null
cargo build --release --quiet
for split in youtube-all sms; do
  printf '%s\t' "$split"
  target/release/commentguard eval --train "target/splits/$split-train.jsonl" --test "target/splits/$split-test.jsonl"
done
printf 'tune\t'
target/release/commentguard tune --train target/splits/youtube-all-train.jsonl --train target/splits/sms-train.jsonl \
  | python3 -c 'import json,sys; print("recommended spam threshold:", json.load(sys.stdin)["recommended"])'
