#!/usr/bin/env python3
"""Drive commentguard's Akismet endpoints with the real PyPI client `akismet` (25.10.1).

Run with the interpreter of the venv that tests/clients/setup.sh made:

    CG_BASE_URL=http://127.0.0.1:PORT CG_KEY=... CG_BLOG=https://blog.example.com \
    CG_BAD_KEY=... DIR/venv/bin/python tests/clients/akismet_py.py

Prints one JSON line (the summary) on stdout, each failure on stderr, and exits 0 only when
every check passed (1 when one failed, 2 when the environment is incomplete).

Client quirks this script works around (see README.md):
- akismet.py has no base-URL option: it reads the module global `akismet._common._API_URL`
  at call time, so setting it points every call at the test server.
- Its default timeout is 1 s (PYTHON_AKISMET_TIMEOUT, read at import); we pass our own
  httpx.Client with a longer one (CG_CLIENT_TIMEOUT, default 10 s) and the client's User-Agent.
- It refuses keyword arguments it does not know (UnknownArgumentError), so the honeypot's
  value, which lives in a field the form names, cannot be sent through it. The discard check
  sends `honeypot_field_name` through the client and a tiny httpx transport appends the named
  field to that one request body; the DISCARD result itself is the client's own reading of
  the `X-akismet-pro-tip: discard` header.
"""

import json
import os
import sys
import traceback
from importlib.metadata import version
from urllib.parse import urlencode

try:
    import akismet
    import httpx
    from akismet import _common
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"akismet_py: cannot import the client ({exc}); run tests/clients/setup.sh DIR "
          "and use DIR/venv/bin/python", file=sys.stderr)
    sys.exit(2)

REQUIRED = ("CG_BASE_URL", "CG_KEY", "CG_BLOG", "CG_BAD_KEY")
USER_IP = "203.0.113.7"
HONEYPOT_FIELD = "cg_hp_website"

HAM = {
    "comment_type": "comment",
    "comment_author": "Jane Reader",
    "comment_author_email": "jane.reader@example.org",
    "comment_content": (
        "Thanks for the clear write-up. I tried the second approach on my own garden "
        "beds last spring and the tomatoes did much better. Looking forward to part two."
    ),
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "blog_lang": "en",
    "blog_charset": "UTF-8",
    "is_test": True,
}


class ExtraFieldsTransport(httpx.BaseTransport):
    """Appends `extra` form fields to POST bodies that carry `honeypot_field_name`."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.extra: dict[str, str] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if self.extra and request.method == "POST" and b"honeypot_field_name=" in body:
            body = body + b"&" + urlencode(self.extra).encode("ascii")
            headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
            request = httpx.Request(request.method, request.url, headers=headers, content=body)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def main() -> int:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(f"akismet_py: missing environment: {', '.join(missing)}", file=sys.stderr)
        return 2
    base = os.environ["CG_BASE_URL"].rstrip("/")
    key, blog, bad_key = (os.environ[n] for n in ("CG_KEY", "CG_BLOG", "CG_BAD_KEY"))
    timeout = float(os.environ.get("CG_CLIENT_TIMEOUT", "10"))

    _common._API_URL = base  # read at call time by _common._prepare_request
    transport = ExtraFieldsTransport()
    http = httpx.Client(headers={"User-Agent": akismet.USER_AGENT}, timeout=timeout,
                        transport=transport)
    config = akismet.Config(key=key, url=blog)
    results: dict[str, str] = {}

    def check(name, fn):
        try:
            outcome = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
            chain = [exc] + ([exc.__cause__] if exc.__cause__ is not None else [])
            detail = " <- ".join(
                "".join(traceback.format_exception_only(type(e), e)).strip() for e in chain)
            outcome = "raised " + " | ".join(line.strip() for line in detail.splitlines()
                                             if line.strip())
        if outcome is True:
            results[name] = "ok"
        else:
            results[name] = f"FAIL: {outcome}"
            print(f"akismet_py: FAIL {name}: {outcome}", file=sys.stderr)

    def expect(got, want, what):
        return True if got == want else f"{what}: expected {want!r}, got {got!r}"

    client = None

    def verify_key_valid():
        nonlocal client
        client = akismet.SyncClient.validated_client(config=config, http_client=http)
        return expect(client.verify_key(), True, "verify_key() for CG_KEY")

    def verify_key_invalid():
        if client is None:
            return "no validated client (verify_key_valid failed)"
        got = client.verify_key(bad_key, blog)
        if got is not False:
            return f"verify_key(CG_BAD_KEY) returned {got!r}, expected False"
        try:
            akismet.SyncClient.validated_client(config=akismet.Config(key=bad_key, url=blog),
                                                http_client=http)
        except akismet.APIKeyError:
            return True
        return "validated_client with CG_BAD_KEY did not raise APIKeyError"

    def comment_check_bad_key():
        unvalidated = akismet.SyncClient(config=akismet.Config(key=bad_key, url=blog),
                                         http_client=http)
        try:
            got = unvalidated.comment_check(USER_IP, **HAM)
        except akismet.APIKeyError:
            return True
        return f"comment_check with CG_BAD_KEY returned {got!r} instead of raising APIKeyError"

    def need_client():
        if client is None:
            raise RuntimeError("no validated client (verify_key_valid failed)")
        return client

    def comment_check_ham():
        got = need_client().comment_check(USER_IP, **HAM)
        return expect(got, akismet.CheckResponse.HAM, "ordinary comment")

    def comment_check_admin():
        got = need_client().comment_check(USER_IP, **{**HAM, "user_role": "administrator"})
        return expect(got, akismet.CheckResponse.HAM, "user_role=administrator")

    def comment_check_spam():
        got = need_client().comment_check(USER_IP, **{**HAM, "comment_author": "viagra-test-123"})
        return expect(got, akismet.CheckResponse.SPAM, "comment_author=viagra-test-123")

    def comment_check_spam_email():
        got = need_client().comment_check(
            USER_IP, **{**HAM, "comment_author_email": "akismet-guaranteed-spam@example.com"})
        return expect(got, akismet.CheckResponse.SPAM, "guaranteed-spam e-mail")

    def comment_check_discard():
        transport.extra = {HONEYPOT_FIELD: "https://cheap-pills.example/buy"}
        try:
            got = need_client().comment_check(
                USER_IP, **{**HAM, "honeypot_field_name": HONEYPOT_FIELD})
        finally:
            transport.extra = {}
        return expect(got, akismet.CheckResponse.DISCARD, "honeypot filled")

    # Corrections are sent without is_test, so they are recorded and must take effect: the
    # same comment checked again gets the moderator's answer.
    LIVE = {k: v for k, v in HAM.items() if k != "is_test"}
    SPAMMY = {**LIVE, "comment_content": "Check out my channel and subscribe!!! http://promo.example/win"}
    SNEAKY = {**LIVE, "comment_content": "Lovely garden! I sell organic seeds at seeds-for-you.example, tell your friends"}

    def submit_spam():
        got = need_client().submit_spam(USER_IP, **SNEAKY)
        if got is not True:
            return f"submit_spam() returned {got!r}"
        after = need_client().comment_check(USER_IP, **SNEAKY)
        return expect(after, akismet.CheckResponse.SPAM, "comment-check after submit-spam")

    def submit_ham():
        before = need_client().comment_check(USER_IP, **SPAMMY)
        if before == akismet.CheckResponse.HAM:
            return "the promo comment was not spam to begin with; the test proves nothing"
        got = need_client().submit_ham(USER_IP, **SPAMMY)
        if got is not True:
            return f"submit_ham() returned {got!r}"
        after = need_client().comment_check(USER_IP, **SPAMMY)
        return expect(after, akismet.CheckResponse.HAM, "comment-check after submit-ham")

    def usage_limit():
        got = need_client().usage_limit()
        if not isinstance(got, dict):
            return f"usage_limit() returned {type(got).__name__}, expected a JSON object"
        missing_keys = [k for k in ("limit", "usage", "percentage", "throttled") if k not in got]
        if missing_keys:
            return f"usage_limit() lacks {missing_keys}: {got!r}"
        return expect(type(got["throttled"]), bool, "usage_limit()['throttled'] type")

    check("verify_key_valid", verify_key_valid)
    check("verify_key_invalid", verify_key_invalid)
    check("comment_check_bad_key", comment_check_bad_key)
    check("comment_check_ham", comment_check_ham)
    check("comment_check_admin_ham", comment_check_admin)
    check("comment_check_spam", comment_check_spam)
    check("comment_check_spam_email", comment_check_spam_email)
    check("comment_check_discard", comment_check_discard)
    check("submit_spam", submit_spam)
    check("submit_ham", submit_ham)
    check("usage_limit", usage_limit)
    http.close()

    failed = [name for name, outcome in results.items() if outcome != "ok"]
    print(json.dumps({
        "client": "akismet.py",
        "version": version("akismet"),
        "passed": len(results) - len(failed),
        "failed": len(failed),
        "checks": results,
    }))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
