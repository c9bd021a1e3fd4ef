#!/usr/bin/env python3
"""Convert the shared spam datasets into the JSON Lines training corpus.

Usage (from the repository root):
    python3 scripts/convert_datasets.py [DATASETS_DIR]

DATASETS_DIR defaults to ../shared/datasets relative to the repository root.

Writes, deterministically (same input gives the same bytes):
  fixtures/corpus/youtube.jsonl  every row of the UCI YouTube Spam Collection,
      videos in the order Psy, KatyPerry, LMFAO, Eminem, Shakira, rows in
      file order; text is CONTENT unmodified (U+FEFF, HTML and entities kept).
  fixtures/corpus/sms.jsonl      every row of the SMS Spam Collection v.1 in
      file order, exact-duplicate texts dropped (first kept), id sms-<line index>
      (0-based, counted before dropping, as in shared/eval/make_splits.py).
  fixtures/corpus/blog.jsonl     the two blog-comment files, spam
      (umd-portfolio-spam.jsonl) then ham (mademistakes-ham.jsonl), rows in
      file order, every field copied unchanged except that "site" becomes
      "source" (blog-umd / blog-mademistakes, the names of the shared splits).

One JSON object per line: {"id", "author", "text", "label", "source"} with
label "spam" or "ham". Python 3 standard library only.
"""
import collections
import csv
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATASETS = os.path.join(REPO, "..", "shared", "datasets")
OUT_DIR = os.path.join(REPO, "fixtures", "corpus")
VIDEOS = ["Youtube01-Psy", "Youtube02-KatyPerry", "Youtube03-LMFAO",
          "Youtube04-Eminem", "Youtube05-Shakira"]


def youtube_rows(datasets):
    for video in VIDEOS:
        source = "youtube-" + video.split("-", 1)[1].lower()
        path = os.path.join(datasets, "youtube-spam-collection", video + ".csv")
        with open(path, newline="", encoding="utf-8") as f:
            for n, r in enumerate(csv.DictReader(f), start=1):
                cls = r["CLASS"].strip()
                if cls not in ("0", "1"):
                    sys.exit(f"{path}: record {n}: unexpected CLASS {r['CLASS']!r}")
                yield {"id": r["COMMENT_ID"], "author": r["AUTHOR"],
                       "text": r["CONTENT"],
                       "label": "spam" if cls == "1" else "ham",
                       "source": source}


def sms_rows(datasets):
    path = os.path.join(datasets, "sms-spam-collection", "SMSSpamCollection")
    seen = set()
    with open(path, encoding="utf-8", newline="\n") as f:
        for i, line in enumerate(f):
            label, _, text = line.rstrip("\n").partition("\t")
            if label not in ("spam", "ham"):
                sys.exit(f"{path}: line {i + 1}: unexpected label {label!r}")
            if text in seen:
                continue
            seen.add(text)
            yield {"id": f"sms-{i}", "author": "", "text": text,
                   "label": label, "source": "sms"}


BLOG_FILES = [("umd-portfolio-spam.jsonl", "blog-umd", "spam"),
              ("mademistakes-ham.jsonl", "blog-mademistakes", "ham")]


def blog_rows(datasets):
    for name, source, label in BLOG_FILES:
        path = os.path.join(datasets, "blog-comments", name)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                r = json.loads(line)
                if r.get("label") != label:
                    sys.exit(f"{path}: line {n}: unexpected label {r.get('label')!r}")
                yield {"id": r["id"], "author": r.get("author") or "",
                       "text": r["text"], "label": label, "source": source}


def write(path, rows):
    counts = collections.Counter()
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts[row["label"]] += 1
    except BaseException:
        os.remove(tmp)
        raise
    os.replace(tmp, path)
    total = sum(counts.values())
    rel = os.path.relpath(path, REPO)
    print(f"{rel}: {total} rows ({counts['spam']} spam / {counts['ham']} ham)")


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        sys.exit(__doc__)
    datasets = argv[1] if len(argv) == 2 else DEFAULT_DATASETS
    if not os.path.isdir(datasets):
        sys.exit(f"datasets directory not found: {datasets}")
    os.makedirs(OUT_DIR, exist_ok=True)
    write(os.path.join(OUT_DIR, "youtube.jsonl"), youtube_rows(datasets))
    write(os.path.join(OUT_DIR, "sms.jsonl"), sms_rows(datasets))
    write(os.path.join(OUT_DIR, "blog.jsonl"), blog_rows(datasets))


if __name__ == "__main__":
    main(sys.argv)
