# Helpers the HTTP benchmarks share (scripts/load-bench.sh, replicas-bench.sh,
# replicas-faults.sh); sourced from the repository root, not run.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_ready NAME PORT [LOG]: waits up to 10 s for the service on PORT to answer /readyz;
# otherwise prints LOG (its stderr) and exits.
wait_ready() {
  local name=$1 port=$2 log=${3:-}
  for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/readyz')" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$name did not start${log:+:}" >&2
  [ -z "$log" ] || cat "$log" >&2
  exit 1
}

# Writes real comments from the shipped corpus with a __N__ slot that makes each request
# unique (scripts/load-bench.lua): score bodies to target/bench-bodies.txt, the same
# comments as Akismet comment-check forms to target/bench-forms.txt.
write_bench_bodies() {
  python3 - <<'PY'
import json
from urllib.parse import urlencode
out = open("target/bench-bodies.txt", "w")
forms = open("target/bench-forms.txt", "w")
for path in ["fixtures/corpus/youtube.jsonl", "fixtures/corpus/sms.jsonl"]:
    for line in open(path, encoding="utf-8"):
        row = json.loads(line)
        body = {"content": row["text"] + " #__N__", "author": row.get("author") or "", "user_ip": "192.0.2.1"}
        out.write(json.dumps(body, ensure_ascii=False) + "\n")
        # The same comment as an Akismet comment-check (open mode takes any well-formed key).
        form = {"api_key": "benchbench12", "blog": "https://blog.example", "user_ip": "192.0.2.1",
                "comment_type": "comment", "comment_author": row.get("author") or "",
                "comment_content": row["text"] + " #__N__"}
        forms.write(urlencode(form) + "\n")
PY
}

# Sets BIN to the release build of this checkout unless the caller set it (BIN=path
# benchmarks another build).
use_release_binary() {
  if [ -z "${BIN:-}" ]; then
    cargo build --release --locked --quiet --bin commentguard
    BIN=target/release/commentguard
  fi
}

# A benchmark's traffic comes from one address and repeats comments: the rate limit and the
# flood and repeat signals are raised out of its way (every request still passes them).
raise_limits() {
  export COMMENTGUARD_RATE_LIMIT=1000000000 COMMENTGUARD_FLOOD_MAX_PER_15S=1000000000 \
    COMMENTGUARD_SIGNAL_MAX_REPEATS=1000000000 RUST_LOG=warn
}
