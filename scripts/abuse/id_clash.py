#!/usr/bin/env python3
"""Id-clash probes: every blog numbers its comments from 1, so two sites' comment 42 must each
answer their own verdict from `GET /v1/comments/{id}`.

1. `clash`: comment 42 scored for two sites; each site (`?site=URL`, as a moderator or admin)
   reads its own verdict back.
2. `clash-keys`: with a site key per site, each key reads its own comment 42; one site's key
   cannot read the other's verdict id (404) nor name the other site (403).
3. `clash-many`: 200 sites x comments 1-5, all scored, then all read back: each answers its
   own verdict.

Prints one line per probe with ok or FAIL; exits 1 if a probe fails.

Against a running server: ABUSE_URL (loopback only); ABUSE_KEY, a moderator or admin key
(open local mode needs none); for `clash-keys`, ABUSE_SITE_A and ABUSE_SITE_KEY_A,
ABUSE_SITE_B and ABUSE_SITE_KEY_B (skipped without them). ABUSE_PID, if given, adds the
server's resident memory to each line. Standalone (no ABUSE_URL): starts
`target/release/commentguard serve` on a free port with a fresh data directory and its own
keys, and stops it after. Python 3 standard library only.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# scripts/abuse.sh passes the build under test as BIN.
BINARY = os.environ.get("BIN") or os.path.join(ROOT, "target", "release", "commentguard")
SITE_A, SITE_B = "https://blog-a.example", "https://blog-b.example"


def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return f"; server RSS {int(line.split()[1]) / 1024:.1f} MB"
    except (OSError, ValueError):
        pass
    return ""


def create_key(data_dir, role, site=None):
    args = [BINARY, "keys", "create", "--role", role] + (["--site", site] if site else [])
    env = dict(os.environ, COMMENTGUARD_DATA_DIR=data_dir)
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1].strip()


def start_server():
    """The release binary with a moderator key and a site key per site; returns
    (url, process, data dir, moderator key, {site: key})."""
    if not os.path.exists(BINARY):
        sys.exit(f"{BINARY} missing: cargo build --release")
    data = tempfile.TemporaryDirectory(prefix="abuse-")
    moderator = create_key(data.name, "moderator")
    site_keys = {site: create_key(data.name, "site", site) for site in (SITE_A, SITE_B)}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, COMMENTGUARD_BIND=f"127.0.0.1:{port}", COMMENTGUARD_DATA_DIR=data.name,
               COMMENTGUARD_RATE_LIMIT="off", COMMENTGUARD_REDIS_URL="", REDIS_URL="",
               RUST_LOG="warn")
    process = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return f"http://127.0.0.1:{port}", process, data, moderator, site_keys
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit("the server did not become ready within 20 s")


class Api:
    """Keep-alive JSON calls to the server."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            sys.exit(f"{url}: the probes run against loopback only")
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)

    def call(self, method, path, key=None, body=None):
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            try:
                self.connection.request(method, path, data, headers)
                response = self.connection.getresponse()
                text = response.read()
                return response.status, (json.loads(text) if text else None)
            except (OSError, http.client.HTTPException):
                self.connection.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def score(self, key, content, comment_id, site=None):
        body = {"content": content, "id": comment_id}
        if site:
            body["site"] = site
        status, answer = self.call("POST", "/v1/comments/score", key, body)
        if status != 200:
            raise AssertionError(f"scoring answered {status}: {answer}")
        return answer["verdict_id"]

    def read(self, key, comment_id, site=None):
        path = f"/v1/comments/{urllib.parse.quote(comment_id, safe='')}"
        if site:
            path += "?site=" + urllib.parse.quote(site, safe="")
        status, answer = self.call("GET", path, key)
        return status, (answer or {}).get("verdict_id")


def line(name, started, failures, pid, what):
    verdict = "ok" if not failures else "FAIL: " + "; ".join(failures[:3])
    print(f"{name:<10} {what} in {time.time() - started:.1f} s{rss(pid) if pid else ''}: {verdict}",
          flush=True)
    return not failures


def probe_clash(api, key, tag, pid):
    started, failures = time.time(), []
    verdicts = {site: api.score(key, f"Comment 42 on {site} {tag}", "42", site) for site in (SITE_A, SITE_B)}
    for site, verdict in verdicts.items():
        got = api.read(key, "42", site)
        if got != (200, verdict):
            failures.append(f"{site} comment 42 answered {got}, expected its own {verdict}")
    return line("clash", started, failures, pid, "2 sites' comment 42 read back by site")


def probe_keys(api, keys, tag, pid):
    started, failures = time.time(), []
    (site_a, key_a), (site_b, key_b) = keys
    ours = {site_a: api.score(key_a, f"Our comment 42 {tag}", "42"),
            site_b: api.score(key_b, f"Their comment 42 {tag}", "42")}
    for site, key in keys:
        got = api.read(key, "42")
        if got != (200, ours[site]):
            failures.append(f"{site}'s key read {got} for its comment 42")
    got = api.read(key_b, ours[site_a])
    if got[0] != 404:
        failures.append(f"a site key read another site's verdict id: {got}")
    got = api.read(key_b, "42", site_a)
    if got[0] != 403:
        failures.append(f"a site key named another site: {got}")
    return line("clash-keys", started, failures, pid, "2 site keys, own reads, cross reads refused")


def probe_many(api, key, tag, pid):
    started, failures = time.time(), []
    sites = [f"https://blog{i}.example" for i in range(200)]
    verdicts = {(site, str(n)): api.score(key, f"Comment {n} on {site} {tag}", str(n), site)
                for site in sites for n in range(1, 6)}
    for (site, n), verdict in verdicts.items():
        got = api.read(key, n, site)
        if got != (200, verdict):
            failures.append(f"{site} comment {n} answered {got}")
    return line("clash-many", started, failures, pid, f"{len(verdicts)} comments on 200 sites read back")


def main():
    url, key, pid = os.environ.get("ABUSE_URL"), os.environ.get("ABUSE_KEY"), os.environ.get("ABUSE_PID")
    keys = [(os.environ.get(f"ABUSE_SITE_{x}"), os.environ.get(f"ABUSE_SITE_KEY_{x}")) for x in "AB"]
    process = data = None
    if not url:
        url, process, data, key, site_keys = start_server()
        pid, keys = process.pid, list(site_keys.items())
    tag = uuid.uuid4().hex[:8]
    ok = True
    try:
        api = Api(url)
        ok &= probe_clash(api, key, tag, pid)
        if all(site and site_key for site, site_key in keys):
            ok &= probe_keys(api, keys, tag, pid)
        else:
            print("clash-keys skipped: set ABUSE_SITE_A, ABUSE_SITE_KEY_A, ABUSE_SITE_B, ABUSE_SITE_KEY_B", flush=True)
        ok &= probe_many(api, key, tag, pid)
    finally:
        if process:
            process.terminate()
            process.wait(timeout=30)
        if data:
            data.cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
