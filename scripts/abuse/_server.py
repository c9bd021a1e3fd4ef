"""Shared by the abuse probes: a release server on loopback, started fresh for each run.

`serve(bin, env, nofile)` starts `bin serve` on a free 127.0.0.1 port with a temporary data
directory (open local mode: no keys), the given extra settings and open-file limit, waits
for /readyz, and stops it (SIGTERM, then SIGKILL) when the block ends. `http_get` and
`rss_mb` are small helpers a probe may want. Nothing here leaves loopback.
"""

import contextlib
import os
import resource
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_own_nofile(wanted):
    """The probe itself opens many sockets: lift its soft limit towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def http_get(port, path, timeout=2.0, source="127.0.0.1"):
    """(status, seconds) of `GET path` on a fresh connection; status None on failure."""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                      source_address=(source, 0)) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                      .encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
        return status, time.monotonic() - start
    except OSError:
        return None, time.monotonic() - start


def rss_mb(pid):
    """Resident memory of `pid` in MB (VmRSS), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def serve(binary, env=None, nofile=None):
    """Runs the server for the block; yields (port, pid)."""
    port = free_port()
    data = tempfile.TemporaryDirectory(prefix="cg-abuse-")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTGUARD_")}
    environ.update({
        "COMMENTGUARD_BIND": f"127.0.0.1:{port}",
        "COMMENTGUARD_DATA_DIR": data.name,
        "RUST_LOG": environ.get("RUST_LOG", "error"),
    })
    environ.update(env or {})

    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen([binary, "serve"], env=environ, preexec_fn=limit,
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while http_get(port, "/readyz", timeout=0.5)[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready (exit {proc.poll()})")
            time.sleep(0.1)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        data.cleanup()
