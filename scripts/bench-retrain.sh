#!/usr/bin/env bash
# Retraining benchmark (benches/retrain.rs): wall time and peak memory of one job per label
# count. COMMENTGUARD_BENCH_LABELS=10000,100000,1000000 picks the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench retrain
