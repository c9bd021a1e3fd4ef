#!/usr/bin/env python3
"""The comments the import fixtures are made of, from ../shared/datasets/blog-comments.

Prints one JSON object per line: id, author, email, url, ip, agent, content, approved, type,
date. Deterministic: the same rows each run. A few rows are edited so that the fixtures
exercise what a real blog holds: quotes, backslashes, new lines, non-ASCII, pending,
binned and pingback rows.

Usage: comments.py DATASETS_DIR
"""
import json
import sys
from pathlib import Path


def rows(path, n):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) == n:
                break
    return out


def main():
    datasets = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets")
    blog = datasets / "blog-comments"
    ham = rows(blog / "mademistakes-ham.jsonl", 40)
    spam = rows(blog / "umd-portfolio-spam.jsonl", 24)
    out = []
    for i, r in enumerate(ham):
        out.append(dict(content=r["text"], author=r["author"], approved="1"))
    for i, r in enumerate(spam):
        out.append(dict(content=r["text"], author=r["author"], approved="spam"))
    # Edits: each exercises one escape or status (the texts stay the datasets').
    out[0]["content"] = out[0]["content"] + "\nIt's a \"quoted\" back\\slash\ttab."
    out[1]["content"] = out[1]["content"] + " — naïve café ✓ 🎉"
    out[2]["approved"] = "0"
    out[3]["approved"] = "trash"
    out[4]["approved"] = "post-trashed"
    out[5]["type"] = "pingback"
    out[6]["type"] = "trackback"
    out[41]["approved"] = "0"
    for i, c in enumerate(out):
        c.setdefault("type", "comment")
        c["id"] = i + 1
        slug = "".join(ch for ch in c["author"].lower() if ch.isalnum())[:20] or "anon"
        c["email"] = f"{slug}@example.org"
        c["url"] = f"https://{slug}.example.com/" if c["approved"] == "spam" else ""
        c["ip"] = f"192.0.2.{i % 250 + 1}" if i % 2 else f"2001:db8::{i:x}"
        c["agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        c["date"] = f"2024-03-{i % 28 + 1:02d} {i % 24:02d}:{i % 60:02d}:00"
        print(json.dumps(c, ensure_ascii=False))


if __name__ == "__main__":
    main()
