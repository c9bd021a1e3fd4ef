#!/usr/bin/env python3
"""Slow-body probes: many connections that send their headers and part of a body, then
stall (or drip a byte a second), while /healthz is probed every 100 ms from another address.

One line per run: the largest /healthz latency and how many probes were slower than 100 ms
or failed, and how many stalled connections the server closed within the body timeout plus
2 s (with how they were answered: 408 at the deadline, 429 over the per-IP cap). The pass
mark is the issue's: every probe within 100 ms, every stalled connection closed in time.

Loopback only; bounded: at most 1,100 connections per run, each run ends body timeout + 3 s
after its last connection opened. Needs BIN (the release binary) in the environment.
"""

import os
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _server  # noqa: E402

TIMEOUT = 10  # the default COMMENTGUARD_BODY_TIMEOUT_SECS
GRACE = 2  # the "closed within the timeout plus 2 s"
PROBE_EVERY = 0.1
PROBE_LIMIT = 0.1

# (name, connections, source addresses, server open-file limit, extra settings, drip,
#  expected to pass, why)
RUNS = [
    ("stalled, 1 IP", 1100, 1, 1024, {}, False, True,
     "the issue's attack: more stalled bodies than the server has file descriptors"),
    ("drip-fed, 1 IP", 200, 1, 1024, {}, True, True,
     "chunked, a byte a second, never the last chunk"),
    ("stalled, 11 IPs", 1100, 11, 4096, {}, False, True,
     "each IP under the cap; the raised open-file limit carries them"),
    ("stalled, 11 IPs, nofile 1024", 1100, 11, 1024, {}, False, False,
     "the same with the default open-file limit: why compose raises it"),
    ("stalled, 1 IP, cap off", 1100, 1, 1024,
     {"COMMENTGUARD_MAX_CONNECTIONS_PER_IP": "off"}, False, False,
     "the body deadline alone: why the cap exists"),
]


def probe_healthz(port, stop, results):
    """Every 100 ms until `stop`: (status, seconds) of GET /healthz from 127.0.0.1."""
    while not stop.is_set():
        started = time.monotonic()
        results.append(_server.http_get(port, "/healthz", timeout=2.0))
        time.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - started)))


def open_stalled(port, index, sources, drip):
    """A connection from 127.0.0.<2 + index % sources> that sent its headers and part of
    its body; alternately the Akismet route (read before any key check) and the JSON one."""
    source = f"127.0.0.{2 + index % sources}"
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(2.0)
    sock.connect(("127.0.0.1", port))
    if index % 2 == 0:
        path, kind, part = ("/1.1/comment-check", "application/x-www-form-urlencoded",
                            b"blog=https%3A%2F%2Fexample.org&comment_content=half")
    else:
        path, kind, part = ("/v1/comments/score", "application/json",
                            b'{"content": "half a comm')
    if drip:
        framing, body = "Transfer-Encoding: chunked", b"%x\r\n%s\r\n" % (len(part), part)
    else:
        framing, body = "Content-Length: 1000", part
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {kind}\r\n"
            f"{framing}\r\n\r\n").encode()
    sock.sendall(head + body)
    sock.setblocking(False)
    return sock


def watch(conns, drip):
    """Waits until every connection is closed or the run's time is up; returns per
    connection (seconds from its last byte sent to its close or None, first status)."""
    sel = selectors.DefaultSelector()
    state = {}
    for sock, sent_at in conns:
        sel.register(sock, selectors.EVENT_READ)
        state[sock] = {"sent": sent_at, "closed": None, "head": b""}
    last_sent = max(s for _, s in conns)
    end = last_sent + TIMEOUT + GRACE + 1
    next_drip = time.monotonic() + 1
    open_count = len(conns)
    while open_count and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.05):
            sock, st = key.fileobj, state[key.fileobj]
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if data:
                st["head"] = (st["head"] + data)[:64]
                continue
            st["closed"] = time.monotonic()
            sel.unregister(sock)
            open_count -= 1
        if drip and time.monotonic() >= next_drip:
            next_drip += 1
            for sock, st in state.items():
                if st["closed"] is None:
                    try:
                        sock.send(b"1\r\na\r\n")
                    except OSError:
                        pass
    sel.close()
    results = []
    for sock, st in state.items():
        took = None if st["closed"] is None else st["closed"] - st["sent"]
        status = st["head"].split(b" ", 2)[1].decode() if st["head"].startswith(b"HTTP/1.1 ") \
            else "-"
        results.append((took, status))
        sock.close()
    return results


def run(binary, name, count, sources, nofile, env, drip, expected, why):
    with _server.serve(binary, env, nofile) as (port, _pid):
        stop, probes = threading.Event(), []
        prober = threading.Thread(target=probe_healthz, args=(port, stop, probes))
        prober.start()
        time.sleep(0.5)  # a few probes before the attack, as a baseline
        conns, failed = [], 0
        for i in range(count):
            try:
                conns.append((open_stalled(port, i, sources, drip), time.monotonic()))
            except OSError:
                failed += 1
        results = watch(conns, drip) if conns else []
        stop.set()
        prober.join()
    latencies = [t for s, t in probes if s == 200]
    slow = sum(1 for s, t in probes if s != 200 or t > PROBE_LIMIT)
    closed = sum(1 for took, _ in results if took is not None and took <= TIMEOUT + GRACE)
    statuses = {}
    for _, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    answered = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
    passed = slow == 0 and closed == count
    verdict = "PASS" if passed else "FAIL"
    if not expected:
        verdict += " (expected)" if not passed else " (unexpected)"
    print(f"{name:<30} {count:>5} conns, nofile {nofile}: healthz max "
          f"{max(latencies, default=float('nan')) * 1000:.0f} ms, {slow}/{len(probes)} probes "
          f"slower than 100 ms or failed; closed within {TIMEOUT + GRACE} s: "
          f"{closed}/{count} ({answered}; {failed} could not connect) {verdict}  # {why}",
          flush=True)
    return passed or not expected


def main():
    binary = os.environ["BIN"]
    _server.raise_own_nofile(4096)
    only = os.environ.get("SLOW_BODY_RUNS")  # e.g. "1,2": run only those (1-based)
    ok = True
    for i, spec in enumerate(RUNS, 1):
        if only and str(i) not in only.split(","):
            continue
        ok &= run(binary, *spec)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
