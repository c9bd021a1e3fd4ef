#!/usr/bin/env bash
# Quality against scoring speed for character n-gram settings, e.g.
#   scripts/ngram-frontier.sh 2-5 3-5 3-3 0-0
# For each MIN-MAX (0-0: no character n-grams): the spam threshold `tune` recommends on the
# training splits only, `eval` of both test splits at that threshold, then the scoring bench
# (criterion median per 591 comments) with a model trained on the shipped corpus with that
# setting. Settings other than 2-5 run the general n-gram loop, not the unrolled one, so their
# times are an upper bound.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${COMMENTGUARD_SHARED:-../shared}"
python3 "$shared/eval/make_splits.py" target/splits >/dev/null
cargo build --release --quiet
bin=target/release/commentguard
s=target/splits
for cfg in "$@"; do
  args=(--char-ngrams "$cfg")
  threshold=$("$bin" tune "${args[@]}" --train "$s/youtube-all-train.jsonl" --train "$s/sms-train.jsonl" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["recommended"])')
  line="$cfg threshold $threshold"
  for split in youtube-all sms; do
    report=$(COMMENTGUARD_SPAM_THRESHOLD=$threshold "$bin" eval "${args[@]}" \
      --train "$s/$split-train.jsonl" --test "$s/$split-test.jsonl" \
      | python3 -c 'import json, sys; d = json.load(sys.stdin); print("F1 %.3f FPR %.4f" % (d["f1"], d["fpr"]))')
    line="$line | $split $report"
  done
  models="target/frontier/$cfg"
  rm -rf "$models"
  "$bin" train "${args[@]}" --no-progress --input fixtures/corpus/youtube.jsonl \
    --input fixtures/corpus/sms.jsonl --out "$models" >/dev/null
  cp models/rules.toml "$models/"
  median=$(COMMENTGUARD_BENCH_MODELS="$models" cargo bench --quiet --bench score -- \
    --warm-up-time 1 --measurement-time 4 --noplot 2>/dev/null | awk '/ time:/ && !done { print $4, $5; done = 1 }')
  echo "$line | bench median $median per 591 comments"
done
