#!/usr/bin/env bash
# No acknowledged label lost under faults, with the release binary on loopback: three
# replicas on one PostgreSQL and one Redis take spam labels for unique comments from
# WRITERS client threads per replica for DURATION seconds; at KILL_AT s replica 3 is killed
# with SIGKILL, at RESTART_AT s PostgreSQL is restarted (an immediate stop, as a crash: no
# checkpoint, sessions cut mid-transaction, recovery from the write-ahead log). Then:
#   - every label answered 200 is in PostgreSQL, and no comment has two rows;
#   - the only refusals are 503 label_store_unavailable;
#   - every surviving replica, and replica 3 started again, has learnt each stored label
#     exactly once (/readyz: the last position applied, and the live model's spam documents
#     = the shipped model's + the rows).
# PostgreSQL is a cluster of its own (initdb + pg_ctl in a temporary directory, on a free
# port; as the `postgres` user when run as root). Needs redis-server, psql, python3 and
# PostgreSQL's server binaries (/usr/lib/postgresql/*/bin). BIN=path uses another build.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-12}"
KILL_AT="${KILL_AT:-4}"
RESTART_AT="${RESTART_AT:-7}"
WRITERS="${WRITERS:-4}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
for tool in redis-server psql python3 "$PG_BIN/initdb" "$PG_BIN/pg_ctl"; do
  command -v "$tool" >/dev/null || { echo "$tool missing (Debian packages redis-server, postgresql, python3)" >&2; exit 1; }
done
source scripts/bench-common.sh
use_release_binary
raise_limits
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
PGDATA="$WORK/pgdata"
mkdir -p "$PGDATA"
[ ${#as_pg[@]} -eq 0 ] || chown postgres:postgres "$PGDATA"
cleanup() {
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" stop -m immediate -w >/dev/null 2>&1 || true
  kill "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PG_PORT=$(free_port)
"${as_pg[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust >/dev/null
PG_OPTS="-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PGDATA -c max_connections=200"
pg_ctl() { "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" "$@"; }
pg_ctl start -w -o "$PG_OPTS" -l "$PGDATA/server.log" >/dev/null
PSQL=(psql -qtA -h 127.0.0.1 -p "$PG_PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE faults"
DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/faults"
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
PIDS+=($!)

start() { # name, port: a replica on the database and Redis; sets STARTED to its pid
  local name=$1 port=$2
  mkdir -p "$WORK/$name"
  env COMMENTGUARD_BIND="127.0.0.1:$port" COMMENTGUARD_DATA_DIR="$WORK/$name" \
    COMMENTGUARD_DATABASE_URL="$DB_URL" COMMENTGUARD_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
    "$BIN" serve 2>>"$WORK/$name.log" &
  STARTED=$!
  PIDS+=("$STARTED")
  wait_ready "replica $name" "$port" "$WORK/$name.log"
}

PORTS=()
for i in 1 2 3; do
  port=$(free_port); PORTS+=("$port")
  start "replica$i" "$port"
done
VICTIM=$STARTED
BASE=$(python3 -c "import json,urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:${PORTS[0]}/readyz'))['model_documents']['spam'])")

echo "== faults: $DURATION s of labels, $WRITERS writers per replica; SIGKILL replica 3 at $KILL_AT s, PostgreSQL restarted at $RESTART_AT s"
RESTART_CMD="${as_pg[*]} $PG_BIN/pg_ctl -D $PGDATA restart -m immediate -w -o '$PG_OPTS' -l $PGDATA/server.log"
python3 - "$WORK" "$DURATION" "$KILL_AT" "$RESTART_AT" "$WRITERS" "$VICTIM" "$RESTART_CMD" "${PORTS[@]}" <<'PY'
import http.client, json, os, signal, subprocess, sys, threading, time
work, duration, kill_at, restart_at, writers, victim, restart_cmd = sys.argv[1:8]
duration, kill_at, restart_at, writers, victim = float(duration), float(kill_at), float(restart_at), int(writers), int(victim)
ports = [int(p) for p in sys.argv[8:]]
lock = threading.Lock()
acked, refused, unexpected, unanswered, sent = [], 0, [], {p: 0 for p in ports}, 0
t0 = time.monotonic()
stop = threading.Event()

def writer(port, tag):
    global refused, sent
    conn, n = None, 0
    while not stop.is_set():
        n += 1
        body = json.dumps({"label": "spam", "comment": {
            "content": f"Cheap followers for your channel, offer {tag}-{n} at growth.example",
            "author": f"seller {tag}"}})
        with lock:
            sent += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/v1/feedback", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            status, answer = r.status, json.loads(r.read())
        except Exception:
            conn = None
            with lock:
                unanswered[port] += 1
            time.sleep(0.05)
            continue
        with lock:
            if status == 200:
                acked.append(answer["label_id"])
            elif status == 503 and answer.get("error") == "label_store_unavailable":
                refused += 1
            else:
                unexpected.append(f"{status} {answer}")
        if status == 503:
            time.sleep(0.02)

threads = [threading.Thread(target=writer, args=(p, f"r{i}w{w}"))
           for i, p in enumerate(ports) for w in range(writers)]
for t in threads:
    t.start()
events = sorted([(kill_at, "kill"), (restart_at, "restart")])
for at, what in events:
    time.sleep(max(0, at - (time.monotonic() - t0)))
    if what == "kill":
        os.kill(victim, signal.SIGKILL)
        print(f"t={time.monotonic() - t0:.1f}s SIGKILL replica 3 (acknowledged so far: {len(acked)})")
    else:
        began = time.monotonic()
        subprocess.run(restart_cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
        print(f"t={began - t0:.1f}s PostgreSQL restarted, down {time.monotonic() - began:.2f}s"
              f" (acknowledged so far: {len(acked)})")
time.sleep(max(0, duration - (time.monotonic() - t0)))
stop.set()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0
with open(f"{work}/acked.txt", "w") as f:
    f.write("\n".join(acked) + "\n")
with open(f"{work}/unexpected.txt", "w") as f:
    f.write(str(len(unexpected)))
print(f"sent={sent} acknowledged={len(acked)} refused_503={refused} unexpected={len(unexpected)}"
      f" unanswered_killed={unanswered[ports[2]]} unanswered_surviving={unanswered[ports[0]] + unanswered[ports[1]]}"
      f" acknowledged_per_s={len(acked) / elapsed:.0f}")
for u in unexpected[:5]:
    print("unexpected:", u)
PY

# Replica 3 again, on a fresh data directory: it learns every label from the store.
rm -rf "$WORK/replica3"
start replica3 "${PORTS[2]}"

"${PSQL[@]}" -d faults -c "COPY (SELECT label_id FROM cg_labels) TO STDOUT" >"$WORK/stored.txt"
rows=$("${PSQL[@]}" -d faults -c "SELECT count(*) FROM cg_labels")
dup=$("${PSQL[@]}" -d faults -c "SELECT count(*) - count(DISTINCT fingerprint) FROM cg_labels")
last=$("${PSQL[@]}" -d faults -c "SELECT coalesce(max(seq), 0) FROM cg_labels")
python3 - "$WORK" "$rows" "$dup" "$last" "$BASE" "${PORTS[@]}" <<'PY'
import json, sys, time, urllib.request
work, rows, dup, last, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ports = [int(p) for p in sys.argv[6:]]
unexpected = int(open(f"{work}/unexpected.txt").read())
acked = [l for l in open(f"{work}/acked.txt").read().split() if l]
stored = set(open(f"{work}/stored.txt").read().split())
missing = [a for a in acked if a not in stored]
twice = len(acked) - len(set(acked))
learnt = []
for i, port in enumerate(ports):
    deadline, state = time.monotonic() + 15, None
    while time.monotonic() < deadline:
        state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz"))
        if state["labels_applied_through"] == last:
            break
        time.sleep(0.1)
    learnt.append((state["labels_applied_through"], state["model_documents"]["spam"]))
# Each stored label is a new spam comment: a replica that learnt every one exactly once has
# the shipped model's spam documents plus the rows, no more, no fewer.
once = sum(t == last and docs == base + rows for t, docs in learnt)
print(f"acknowledged={len(acked)} found={len(acked) - len(missing)} missing={len(missing)}"
      f" rows={rows} duplicate_comments={dup} duplicate_acks={twice}"
      f" replicas_learnt_each_once={once}/3 (spam documents {[d for _, d in learnt]},"
      f" want {base}+{rows})")
ok = not missing and dup == 0 and twice == 0 and once == 3 and unexpected == 0
print("RESULT", "ok" if ok else "FAILED")
sys.exit(0 if ok else 1)
PY
