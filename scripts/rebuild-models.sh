#!/usr/bin/env bash
# Rebuilds the shipped model in models/ from the corpus in fixtures/ (deterministic: the same
# corpus gives the same artifact bytes and version id; only manifest.created_at changes).
# Rebuild the binary afterwards, since the shipped model is compiled into it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -- train --no-progress \
  --input fixtures/corpus/youtube.jsonl \
  --input fixtures/corpus/sms.jsonl \
  --input fixtures/corpus/blog.jsonl \
  --out models
