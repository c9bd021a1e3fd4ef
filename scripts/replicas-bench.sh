#!/usr/bin/env bash
# Replicas on one PostgreSQL and one Redis, on loopback (the release binary):
#   1. propagation: 200 labels, each sent to one of three replicas in turn; for each, the
#      time from its 200 until both other replicas score the comment with the moderator's
#      label (polled back to back); p50, p99 and max;
#   2. sustained corrections, RUNS times: wrk against all three replicas at once for
#      DURATION (CONNECTIONS per replica), each request a new spam label; labels/s
#      acknowledged (2xx) summed, and the rows PostgreSQL holds compared with that sum (none
#      lost). Then where the time went: per stage of the replicas (from their
#      `commentguard_label_stage_*` series: the commit to PostgreSQL, reading and applying
#      other replicas' labels, applying their own, and within applying, preparing the
#      scorer to change), and CPU seconds per process group (/proc: the replicas,
#      PostgreSQL, Redis, and the whole machine, whose rest is wrk and anything else that
#      runs meanwhile) with the load average;
#   3. scoring: one replica with the file store and one with the PostgreSQL store (a second,
#      empty database, so that neither model has learned the labels above; no Redis, so the
#      cache is in process for both), wrk score requests with every body unique,
#      interleaved A/B, ROUNDS times (3); the median req/s of each and their ratio. PIN=1
#      puts the replica under test alone on the last CPU and wrk, PostgreSQL and the rest on
#      the others (taskset; the database's own cluster is pinned only when the script
#      started it), so that the figure is the replica's throughput, not who wins the cores.
# PostgreSQL: a cluster of the script's own (initdb + pg_ctl in a temporary directory on a
# free port, fsync on; as the `postgres` user when run as root), so that no other user of a
# shared server weighs on the figures and its processes are counted apart; with PG_PORT set,
# fresh databases on PG_HOST:PG_PORT instead (user postgres, trust auth; its CPU is then
# every postgres process on the machine), dropped at the end. Needs wrk, redis-server, psql,
# python3 and, for the own cluster, PostgreSQL's server binaries.
# BIN=path benchmarks another build instead of building this one; SCORING=0 skips part 3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-16}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
for tool in wrk redis-server psql python3; do
  command -v "$tool" >/dev/null || { echo "$tool missing (Debian packages wrk, redis-server, postgresql-client, python3)" >&2; exit 1; }
done
source scripts/bench-common.sh
use_release_binary
raise_limits
write_bench_bodies
WORK=$(mktemp -d)
chmod 755 "$WORK"
as_pg=()
[ "$(id -u)" -ne 0 ] || as_pg=(runuser -u postgres --)
PGDATA=""
if [ -z "$PG_PORT" ]; then
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL's initdb missing (Debian package postgresql), or set PG_PORT" >&2; exit 1; }
  PGDATA="$WORK/pgdata"
  mkdir -p "$PGDATA"
  [ ${#as_pg[@]} -eq 0 ] || chown postgres:postgres "$PGDATA"
  PG_PORT=$(free_port)
  "${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust >/dev/null
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" start -w -l "$PGDATA/server.log" \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PGDATA" >/dev/null
fi
DB="cg_bench_$$"
PSQL=(psql -qtA -h "$PG_HOST" -p "$PG_PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE ${DB}_scoring"
DB_URL="postgres://postgres@$PG_HOST:$PG_PORT/$DB"
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
PIDS=($!)
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" || true
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS ${DB}_scoring" || true
  if [ -n "$PGDATA" ]; then
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" stop -m fast -w >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start() { # name, port, then extra VAR=value settings
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  env COMMENTGUARD_BIND="127.0.0.1:$port" COMMENTGUARD_DATA_DIR="$WORK/$name" "$@" \
    "$BIN" serve 2>"$WORK/$name.log" &
  PIDS+=($!)
  wait_ready "replica $name" "$port" "$WORK/$name.log"
}

PORTS=()
REPLICA_PIDS=()
for i in 1 2 3; do
  port=$(free_port); PORTS+=("$port")
  start "replica$i" "$port" COMMENTGUARD_DATABASE_URL="$DB_URL" \
    COMMENTGUARD_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  REPLICA_PIDS+=("${PIDS[-1]}")
done

# CPU seconds by process group (/proc) and the replicas' label stages (/metrics), to a file.
snapshot() {
  python3 - "$1" "${REPLICA_PIDS[*]}" "$PGDATA" "${PORTS[@]}" <<'PY'
import json, os, re, sys, urllib.request
out, replica_pids, pgdata, ports = sys.argv[1], set(sys.argv[2].split()), sys.argv[3], sys.argv[4:]
# The own cluster's processes: its postmaster and the postmaster's children.
postmaster = open(f"{pgdata}/postmaster.pid").readline().strip() if pgdata else None
tick = os.sysconf("SC_CLK_TCK")
cpu = {"replicas": 0.0, "postgres": 0.0, "redis": 0.0}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    seconds = (int(fields[11]) + int(fields[12])) / tick
    ours = pid == postmaster or fields[1] == postmaster if postmaster else comm == "postgres"
    group = ("replicas" if pid in replica_pids else "postgres" if ours
             else "redis" if comm.startswith("redis-server") else None)
    if group:
        cpu[group] += seconds
machine = [int(x) for x in open("/proc/stat").readline().split()[1:]]
cpu["machine"] = (sum(machine) - machine[3] - machine[4]) / tick
stages = {}
for port in ports:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    for m in re.finditer(r'commentguard_label_stage_(\w+)_total\{stage="(\w+)"\} (\d+)', text):
        stages.setdefault(m.group(2), {}).setdefault(m.group(1), 0)
        stages[m.group(2)][m.group(1)] += int(m.group(3))
json.dump({"cpu": cpu, "stages": stages, "load": open("/proc/loadavg").read().split()[:3]},
          open(out, "w"))
PY
}

echo "== propagation: 200 labels, each to one replica, until both others pin it"
python3 - "${PORTS[@]}" <<'PY'
import http.client, json, sys, time
ports = [int(p) for p in sys.argv[1:]]
conns = {p: http.client.HTTPConnection("127.0.0.1", p) for p in ports}
def post(port, path, body):
    c = conns[port]
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read())
delays = []
for i in range(200):
    comment = {"content": f"Thanks for the lovely recipe, it worked for me, note {time.time_ns()}-{i}",
               "author": f"reader{i}"}
    to = ports[i % 3]
    others = [p for p in ports if p != to]
    status, body = post(to, "/v1/feedback", {"label": "spam", "comment": comment})
    assert status == 200, body
    acked = time.perf_counter()
    waiting = set(others)
    while waiting:
        for p in list(waiting):
            status, verdict = post(p, "/v1/comments/score", comment)
            if verdict["reasons"] and verdict["reasons"][0]["id"] == "moderator.label":
                waiting.discard(p)
        if time.perf_counter() - acked > 10:
            sys.exit(f"label {i} not on every replica after 10 s")
    delays.append((time.perf_counter() - acked) * 1000)
delays.sort()
pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
print(f"labels=200 p50_ms={pick(0.50):.1f} p99_ms={pick(0.99):.1f} max_ms={delays[-1]:.1f}")
PY

for run in $(seq "$RUNS"); do
echo "== sustained corrections, run $run of $RUNS: wrk on all three replicas for $DURATION, $CONNECTIONS connections each"
before=$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM cg_labels")
snapshot "$WORK/before.json"
for i in 0 1 2; do
  MODE=feedback PREFIX="r$i-$run-$$" BODIES=target/bench-bodies.txt \
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s scripts/load-bench.lua "http://127.0.0.1:${PORTS[$i]}" \
    >"$WORK/wrk$i.txt" &
  WRK_PIDS[$i]=$!
done
wait "${WRK_PIDS[@]}"
snapshot "$WORK/after.json"
after=$("${PSQL[@]}" -d "$DB" -c "SELECT count(*) FROM cg_labels")
python3 - "$WORK" "$((after - before))" <<'PY'
import json, re, sys
work, rows = sys.argv[1], int(sys.argv[2])
total_rate, acked = 0.0, 0
for i in range(3):
    text = open(f"{work}/wrk{i}.txt").read()
    m = re.search(r"RESULT req/s=(\d+) p50_us=(\d+) p99_us=(\d+) errors=(\d+) non2xx=(\d+)", text)
    n = int(re.search(r"(\d+) requests in", text).group(1))
    rate, non2xx = int(m.group(1)), int(m.group(5))
    total_rate += rate * (n - non2xx) / max(n, 1)
    acked += n - non2xx
    print(f"replica{i+1} req/s={rate} p50_us={m.group(2)} p99_us={m.group(3)} non2xx={non2xx}")
print(f"acknowledged_labels_per_s={total_rate:.0f} acknowledged={acked} rows_in_postgres={rows}"
      f" lost={max(0, acked - rows)}")
before, after = (json.load(open(f"{work}/{n}.json")) for n in ("before", "after"))
print("stage (3 replicas summed)  batches  labels/batch  ms/batch  us/label")
order = ["commit", "apply_own", "read", "apply_followed", "prepare_spare", "prepare_copy"]
for stage, now in sorted(after["stages"].items(), key=lambda s: order.index(s[0]) if s[0] in order else 99):
    was = before["stages"].get(stage, {})
    d = {k: now[k] - was.get(k, 0) for k in now}
    if d["batches"]:
        print(f"  {stage:<24} {d['batches']:>7}  {d['labels'] / d['batches']:>12.1f}"
              f"  {d['microseconds'] / d['batches'] / 1000:>8.2f}  {d['microseconds'] / max(d['labels'], 1):>8.0f}")
cpu = {k: after["cpu"][k] - before["cpu"][k] for k in after["cpu"]}
others = cpu["machine"] - sum(v for k, v in cpu.items() if k != "machine")
print("cpu_s " + " ".join(f"{k}={v:.1f}" for k, v in cpu.items()) + f" rest={others:.1f}"
      f" cpu_ms_per_label: replicas={cpu['replicas'] * 1000 / max(acked, 1):.2f}"
      f" postgres={cpu['postgres'] * 1000 / max(acked, 1):.2f}"
      f" load_avg={'/'.join(after['load'])}")
PY
done

[ "${SCORING:-1}" = 1 ] || exit 0
echo "== scoring: file store vs PostgreSQL store, one replica each, no Redis, interleaved"
FILE_PORT=$(free_port); PG_PORT_APP=$(free_port)
start file "$FILE_PORT"
start postgres "$PG_PORT_APP" COMMENTGUARD_DATABASE_URL="${DB_URL}_scoring"
WRK=(wrk)
if [ "${PIN:-0}" = 1 ]; then
  # The replica under test alone on the last CPU; wrk, PostgreSQL (the postmaster and every
  # backend it has forked or will fork) and everything else the script started on the
  # others: the comparison is then of the replica's own work, not of who wins the cores.
  last=$(( $(nproc) - 1 ))
  [ "$last" -ge 1 ] || { echo "PIN=1 needs two CPUs" >&2; exit 1; }
  for pid in "${PIDS[@]}"; do taskset -a -p -c "0-$((last - 1))" "$pid" >/dev/null; done
  taskset -a -p -c "$last" "${PIDS[-2]}" >/dev/null
  taskset -a -p -c "$last" "${PIDS[-1]}" >/dev/null
  if [ -n "$PGDATA" ]; then
    postmaster=$(head -1 "$PGDATA/postmaster.pid")
    for pid in "$postmaster" $(pgrep -P "$postmaster"); do
      taskset -p -c "0-$((last - 1))" "$pid" >/dev/null
    done
  fi
  WRK=(taskset -c "0-$((last - 1))" wrk)
fi
FILE_PID=${PIDS[-2]}; PG_PID=${PIDS[-1]}
# CPU seconds (user + system, every thread) the process has used so far.
cpu_s() { awk -v tick="$(getconf CLK_TCK)" '{ print ($14 + $15) / tick }' "/proc/$1/stat"; }
for round in $(seq "${ROUNDS:-3}"); do
  for store in file postgres; do
    port=$FILE_PORT; pid=$FILE_PID
    [ "$store" = postgres ] && { port=$PG_PORT_APP; pid=$PG_PID; }
    before=$(cpu_s "$pid")
    line=$(MODE=miss "${WRK[@]}" -t2 -c64 -d"$DURATION" --latency -s scripts/load-bench.lua "http://127.0.0.1:$port" | grep RESULT)
    after=$(cpu_s "$pid")
    echo "$store ${line#RESULT } replica_cpu_s=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" \
      | tee -a "$WORK/scoring.txt"
  done
done
# Besides req/s, the replica's CPU time per request: on a shared, virtualised machine the
# rate swings with whatever else runs, while the work one request costs the replica does not.
python3 - "$WORK/scoring.txt" <<'PY'
import re, statistics, sys
rates = {"file": [], "postgres": []}
cpu_us = {"file": [], "postgres": []}
for line in open(sys.argv[1]):
    store = line.split()[0]
    rates[store].append(int(re.search(r"req/s=(\d+)", line).group(1)))
    requests = int(re.search(r"requests=(\d+)", line).group(1))
    cpu = float(re.search(r"replica_cpu_s=([\d.]+)", line).group(1))
    cpu_us[store].append(cpu * 1e6 / max(requests, 1))
f, p = statistics.median(rates["file"]), statistics.median(rates["postgres"])
print(f"median req/s: file={f:.0f} postgres={p:.0f} postgres/file={p / f:.3f}")
f, p = statistics.median(cpu_us["file"]), statistics.median(cpu_us["postgres"])
print(f"median replica CPU per request: file={f:.1f} us postgres={p:.1f} us postgres/file={p / f:.3f}")
PY
