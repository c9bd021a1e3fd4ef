#!/usr/bin/env bash
# Import speed and memory on a large WordPress dump made by repeating a fixture:
# fixtures/import/wp_comments.sql's INSERT statement repeated to SIZE_MB (default 1024)
# after its header. Every copy after the first holds the same comments, so past the first
# copy the rows are parsed, fingerprinted and found to be duplicates: the figure is the
# reading and deduplicating throughput. UNIQUE=1 makes each copy's comments distinct
# (a number appended to each body), so every row becomes a new label (log, fsync per batch,
# pins, spam memory, learning): the figure for new labels.
#
# Measures, with a release build:
#   1. parse alone:   commentguard import FILE --check  (wall time, peak RSS)
#   2. end to end:    commentguard serve + commentguard import FILE --url (the upload, parse,
#                     dedupe and commit; wall time of the command, the service's peak RSS)
#   3. offline:       commentguard import FILE into a data directory (wall time, peak RSS)
# Usage: scripts/import-bench.sh [SIZE_MB]    (from the repository root)
set -euo pipefail
size_mb=${1:-1024}
cargo build --release --locked --quiet
bin=target/release/commentguard
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
dump="$work/big.sql"
python3 - "$dump" "$size_mb" "${UNIQUE:-0}" <<'PY'
import re, sys
path, size_mb, unique = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
text = open("fixtures/import/wp_comments.sql", encoding="utf-8").read()
start = text.index("INSERT INTO")
end = text.index(";\n", start) + 2
head, insert, tail = text[:start], text[start:end], text[end:]
target = size_mb * 1024 * 1024
with open(path, "w", encoding="utf-8") as out:
    out.write(head)
    written, copy = len(head), 0
    while written < target:
        chunk = insert
        if unique:
            # The 9th value of each row is the body: mark it with the copy number.
            chunk = re.sub(r"(\(\d+,\d+,(?:'(?:[^'\\]|\\.)*',){4}'[^']*','[^']*',)'", lambda m: m.group(1) + f"'copy {copy}: ", insert)
        out.write(chunk)
        written += len(chunk.encode())
        copy += 1
    out.write(tail)
PY
bytes=$(stat -c %s "$dump")
echo "file: $bytes bytes ($(awk "BEGIN{print $bytes/1048576}") MiB), unique=${UNIQUE:-0}"
rate() { awk "BEGIN{printf \"%.1f MB/s\", $bytes/1e6/$1}"; }
# CPU seconds (user + system) of a running process, from /proc.
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

/usr/bin/time -f "%e %U %S %M" -o "$work/t1" "$bin" import "$dump" --site https://blog.example.com --check --no-progress > "$work/check.json"
read -r secs user sys rss < "$work/t1"
cpu1=$(awk "BEGIN{print $user + $sys}")
echo "parse alone: ${secs} s wall ($(rate "$secs")), ${cpu1} s CPU ($(rate "$cpu1")), peak RSS $((rss / 1024)) MB"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
COMMENTGUARD_DATA_DIR="$work/served" "$bin" serve --bind "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
before=$(cpu "$server")
/usr/bin/time -f "%e %U %S" -o "$work/t2" "$bin" import "$dump" --site https://blog.example.com --url "http://127.0.0.1:$port" --no-progress > "$work/served.json" 2>"$work/upload.log"
read -r secs user sys < "$work/t2"
service_cpu=$(awk "BEGIN{print $(cpu "$server") - $before}")
served_rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$server/status")
kill "$server"; wait "$server" 2>/dev/null || true
echo "end to end (upload to serve): ${secs} s wall ($(rate "$secs")); service ${service_cpu} s CPU ($(rate "$service_cpu")), uploader $(awk "BEGIN{print $user + $sys}") s CPU; service peak RSS ${served_rss} MB"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("  job:", {k: j[k] for k in ("records_read","imported_spam","imported_ham","duplicates","committed","skipped")})' "$work/served.json"

/usr/bin/time -f "%e %U %S %M" -o "$work/t3" env COMMENTGUARD_DATA_DIR="$work/offline" "$bin" import "$dump" --site https://blog.example.com --no-progress > "$work/offline.json" 2>"$work/offline.log"
read -r secs user sys rss < "$work/t3"
cpu3=$(awk "BEGIN{print $user + $sys}")
echo "offline into a data directory: ${secs} s wall ($(rate "$secs")), ${cpu3} s CPU ($(rate "$cpu3")), peak RSS $((rss / 1024)) MB"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
