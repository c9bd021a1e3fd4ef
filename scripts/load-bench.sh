#!/usr/bin/env bash
# HTTP load benchmark: the release binary on loopback, wrk with 64 connections for 10 s per
# scenario, real comments from the shipped corpus. Prints req/s and p50/p99 for GET /healthz
# (the bare baseline), score with cache misses, score with cache hits, Akismet comment-check
# (cache misses), and score with Redis down. Needs wrk and redis-server (Debian packages wrk, redis-server).
# BIN=path benchmarks another build (e.g. an older commit's) instead of building this one;
# SCENARIOS="healthz miss hit" runs only those. Rate limiting and metrics are on as in
# production, but the limit is raised out of the way like the flood signals (the bench sends
# 10-60x the default 1,000/s from one IP): every request still takes a token. Set
# COMMENTGUARD_RATE_LIMIT=off to measure without the limiter.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server missing: apt-get install redis-server" >&2; exit 1; }
BIN="${BIN:-}"
if [ -z "$BIN" ]; then cargo build --release --quiet; BIN=target/release/commentguard; fi
SCENARIOS="${SCENARIOS:-healthz miss hit akismet redis-down}"
export COMMENTGUARD_RATE_LIMIT="${COMMENTGUARD_RATE_LIMIT:-1000000000}"

source scripts/bench-common.sh
write_bench_bodies
REDIS_PORT=$(free_port)
APP_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
REDIS_PID=$!
cleanup() { kill "$APP_PID" "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT
sleep 0.5
# Flood and repeat signals would hold the benchmark's own traffic; raise them out of the way.
COMMENTGUARD_BIND="127.0.0.1:$APP_PORT" COMMENTGUARD_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
  COMMENTGUARD_FLOOD_MAX_PER_15S=1000000000 COMMENTGUARD_SIGNAL_MAX_REPEATS=1000000000 \
  RUST_LOG=warn "$BIN" serve &
APP_PID=$!
wait_ready "the service" "$APP_PORT"

run() { # name, then wrk arguments
  local name=$1; shift
  case " $SCENARIOS " in *" $MODE "*|*" ${name// /-} "*) ;; *) return 0 ;; esac
  local line
  line=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" | grep RESULT || true)
  printf '%-18s %s\n' "$name" "${line#RESULT }"
}
BASE="http://127.0.0.1:$APP_PORT"
MODE=healthz run "healthz" -s scripts/load-bench.lua "$BASE"
MODE=miss run "score cache miss" -s scripts/load-bench.lua "$BASE"
MODE=hit run "score cache hit" -s scripts/load-bench.lua "$BASE"
MODE=akismet run "akismet check" -s scripts/load-bench.lua "$BASE"
kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
MODE=redis-down run "score redis down" -s scripts/load-bench.lua "$BASE"
