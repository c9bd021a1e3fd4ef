#!/usr/bin/env bash
# Per-video import figures (docs/performance.md, "Per-site history"): each YouTube video is
# a site; the model is trained without it, half its comments (the earliest, file order) are
# imported as labels, and F1 / FPR on the other half are printed with and without them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${COMMENTGUARD_BIN:-target/debug/commentguard}
splits=target/splits
python3 "${COMMENTGUARD_SHARED:-/work/shared}/eval/make_splits.py" "$splits" >/dev/null
printf 'video\thistory\trest\tf1_without\tfpr_without\tf1_with\tfpr_with\n'
for video in psy katyperry lmfao eminem shakira; do
  "$bin" replay --train "$splits/xsource-youtube-$video-train.jsonl" \
    --test "$splits/xsource-youtube-$video-test.jsonl" \
    --seed none --import-share 0.5 --site "https://youtube.example/$video" |
    awk -F'\t' -v v="$video" 'NR == 2 { OFS = "\t"; $1 = v; print }'
done
