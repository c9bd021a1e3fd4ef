#!/usr/bin/env bash
# Scoring cost at a site with labels (issue 20): instructions per comment under callgrind for
# the 591 youtube-all test comments scored as (1) comments of no site, (2) a site without a
# layer while another site has N labels, (3) that site with N labels. Per comment per pass:
# (instructions at 6 passes − at 1 pass) / (5 × comments), so loading the model and learning
# the labels cancel out. Also writes each configuration's COMMENTGUARD_BENCH_DUMP to OUT, to
# diff against another build's (same verdicts, probabilities and tokens, bit for bit).
#   scripts/site-bench.sh [BENCH_BINARY] [OUT_DIR]   (N: COMMENTGUARD_BENCH_SITE_LABELS, 10000)
# Without BENCH_BINARY it builds the score bench (cargo bench --no-run) and uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${COMMENTGUARD_SHARED:-../shared}"
python3 "$shared/eval/make_splits.py" target/splits >/dev/null
bin=${1:-}
if [ -z "$bin" ]; then
  bin=$(cargo bench --locked --bench score --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "score" and m.get("executable"):
        print(m["executable"])')
fi
out=${2:-target/site-bench}
mkdir -p "$out"
labels=${COMMENTGUARD_BENCH_SITE_LABELS:-10000}
comments=$(grep -c . target/splits/youtube-all-test.jsonl)
instructions() { # passes, then env assignments
  local passes=$1
  shift
  env "$@" COMMENTGUARD_BENCH_PASSES="$passes" valgrind --tool=callgrind \
    --callgrind-out-file=/dev/null "$bin" --bench 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | sort -n | tail -1
}
printf 'configuration\tinstructions_per_comment\n'
for config in none other site; do
  case $config in
    none) vars=(COMMENTGUARD_BENCH_X=1) ;;
    other) vars=(COMMENTGUARD_BENCH_SITE_LABELS="$labels" COMMENTGUARD_BENCH_SITE=https://other.example) ;;
    site) vars=(COMMENTGUARD_BENCH_SITE_LABELS="$labels") ;;
  esac
  env "${vars[@]}" COMMENTGUARD_BENCH_DUMP="$out/$config.dump" "$bin" --bench >/dev/null 2>&1
  one=$(instructions 1 "${vars[@]}")
  six=$(instructions 6 "${vars[@]}")
  printf '%s\t%.1fk\n' "$config" "$(echo "($six - $one) / (5 * $comments) / 1000" | bc -l)"
done
