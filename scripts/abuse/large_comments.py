#!/usr/bin/env python3
"""Memory probes: does the server's resident memory stay bounded under traffic it cannot refuse?

1. `large`: 3,000 distinct 60 KB comments, each with its own id (a spammer chooses the size
   of what the platform forwards, and needs no key of their own).
2. `ordinary`: distinct ordinary comments (corpus text, distinct ids and IPs) at full speed
   for 60 s.

Prints one line per probe: name, requests and their statuses, the server's peak and final
resident memory (VmRSS from /proc/PID/status, sampled every 100 ms), and ok or FAIL against
the limit (128 MB). Exits 1 if a probe fails.

Against a running server: ABUSE_URL (loopback only) and ABUSE_PID (its process, for the
memory), optionally ABUSE_KEY (a moderator or admin key; open local mode needs none).
Standalone (no ABUSE_URL): starts `target/release/commentguard serve` itself on a free port
with a fresh data directory, in open local mode, the rate limit off, and stops it after.
Bounds: ABUSE_LARGE_COUNT (3000), ABUSE_SECONDS (60), ABUSE_THREADS (4), ABUSE_LIMIT_MB (128).
Python 3 standard library only.
"""

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_kb(pid):
    """VmRSS of `pid` in KiB, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Samples a process's resident memory every 100 ms while a probe runs."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid) or 0)
            self.stop.wait(0.1)

    def finish(self):
        self.stop.set()
        self.join()
        self.peak = max(self.peak, rss_kb(self.pid) or 0)
        return self.peak


def loopback(url):
    host = urllib.parse.urlsplit(url).hostname
    return host in ("127.0.0.1", "localhost", "::1")


def start_server():
    """Starts the release binary in a fresh data directory; returns (url, process, dir)."""
    # scripts/abuse.sh passes the build under test as BIN.
    binary = os.environ.get("BIN") or os.path.join(ROOT, "target", "release", "commentguard")
    if not os.path.exists(binary):
        sys.exit(f"{binary} missing: cargo build --release")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.TemporaryDirectory(prefix="abuse-")
    env = dict(os.environ, COMMENTGUARD_BIND=f"127.0.0.1:{port}",
               COMMENTGUARD_DATA_DIR=data.name, COMMENTGUARD_RATE_LIMIT="off",
               COMMENTGUARD_REDIS_URL="", REDIS_URL="", RUST_LOG="warn")
    process = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return url, process, data
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("the server did not become ready within 20 s")


class Client:
    """One keep-alive connection; `score` posts a comment and returns the status."""

    def __init__(self, url, key):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.connection = None

    def score(self, comment):
        body = json.dumps(comment).encode()
        for attempt in range(2):
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.connection.request("POST", "/v1/comments/score", body, self.headers)
                response = self.connection.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException):
                self.connection = None
                if attempt:
                    return 0
        return 0


def run_threads(threads, work):
    """Runs `work(index)` in `threads` threads; returns the merged status counts."""
    results = [dict() for _ in range(threads)]
    pool = [threading.Thread(target=work, args=(i, results[i])) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    merged = {}
    for result in results:
        for status, n in result.items():
            merged[status] = merged.get(status, 0) + n
    return merged


def large_text(rng, words, index):
    """About 60 KB of distinct text: a unique header, then shuffled words."""
    out, size = [f"comment {index} {rng.random()}"], 0
    while size < 60_000:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:60_000]


def probe_large(url, key, threads, count):
    rng = random.Random(17)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
             for _ in range(5000)] + ["https://spam.example/buy", "cheap", "pills", "casino"]

    def work(index, statuses):
        client, local = Client(url, key), random.Random(index)
        for n in range(index, count, threads):
            comment = {"content": large_text(local, words, n), "id": f"large-{n}",
                       "site": "https://probe.example", "user_ip": f"10.{n % 250}.{n // 250 % 250}.1"}
            status = client.score(comment)
            statuses[status] = statuses.get(status, 0) + 1

    return run_threads(threads, work)


def corpus_texts():
    texts = []
    for name in ("youtube.jsonl", "sms.jsonl"):
        with open(os.path.join(ROOT, "fixtures", "corpus", name), encoding="utf-8") as f:
            texts.extend(json.loads(line)["text"] for line in f)
    return texts


def probe_ordinary(url, key, threads, seconds):
    texts = corpus_texts()
    deadline = time.time() + seconds

    def work(index, statuses):
        client, n = Client(url, key), index
        while time.time() < deadline:
            comment = {"content": f"{texts[n % len(texts)]} #{n}", "id": f"ordinary-{n}",
                       "site": f"https://site{n % 50}.example", "author": f"author {n % 997}",
                       "user_ip": f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250}"}
            status = client.score(comment)
            statuses[status] = statuses.get(status, 0) + 1
            n += threads

    return run_threads(threads, work)


def report(name, statuses, seconds, peak_kb, final_kb, limit_mb):
    total = sum(statuses.values())
    shown = " ".join(f"{status}:{n}" for status, n in sorted(statuses.items()))
    ok = peak_kb < limit_mb * 1024 and statuses.get(200, 0) > 0
    print(f"{name:<10} {total} requests in {seconds:.1f} s ({shown}); "
          f"server RSS peak {peak_kb / 1024:.1f} MB, after {final_kb / 1024:.1f} MB; "
          f"limit {limit_mb} MB: {'ok' if ok else 'FAIL'}", flush=True)
    return ok


def main():
    url, pid = os.environ.get("ABUSE_URL"), os.environ.get("ABUSE_PID")
    key = os.environ.get("ABUSE_KEY")
    threads = int(os.environ.get("ABUSE_THREADS", "4"))
    count = min(int(os.environ.get("ABUSE_LARGE_COUNT", "3000")), 20_000)
    seconds = min(float(os.environ.get("ABUSE_SECONDS", "60")), 600)
    limit_mb = int(os.environ.get("ABUSE_LIMIT_MB", "128"))
    process = data = None
    if not url:
        url, process, data = start_server()
        pid = process.pid
    if not loopback(url):
        sys.exit(f"{url}: the probes run against loopback only")
    if not pid:
        sys.exit("ABUSE_PID is needed with ABUSE_URL, to read the server's memory")
    pid = int(pid)
    print(f"memory     server pid {pid}, RSS at start {(rss_kb(pid) or 0) / 1024:.1f} MB", flush=True)
    ok = True
    try:
        for name, run in [("large", lambda: probe_large(url, key, threads, count)),
                          ("ordinary", lambda: probe_ordinary(url, key, threads, seconds))]:
            sampler = Sampler(pid)
            sampler.start()
            start = time.time()
            statuses = run()
            elapsed = time.time() - start
            peak = sampler.finish()
            ok &= report(name, statuses, elapsed, peak, rss_kb(pid) or 0, limit_mb)
    finally:
        if process:
            process.terminate()
            process.wait(timeout=30)
        if data:
            data.cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
