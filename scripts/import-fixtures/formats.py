#!/usr/bin/env python3
"""Writes the import fixtures that are not database dumps, and the INSERTs that fill the
databases the dumps are taken from, from the rows of comments.py (on stdin).

Usage: formats.py KIND < comments.jsonl, KIND one of:
  inserts PREFIX  INSERT statements for PREFIXcomments (fed to the mariadb client)
  wp-cli          what `wp comment list --format=json --fields=...` prints (all values strings)
  disqus          a Disqus XML export following Disqus's published schema (disqus.xsd)
  jsonl           commentguard's labelled JSON Lines
"""
import json
import sys
from xml.sax.saxutils import escape

SITE = "https://blog.example.com"


def sql_string(s):
    out = s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return "'" + out + "'"


def main():
    kind = sys.argv[1]
    rows = [json.loads(line) for line in sys.stdin]
    if kind == "inserts":
        prefix = sys.argv[2]
        for r in rows:
            values = [
                str(r["id"]), str(1 + r["id"] % 3), sql_string(r["author"]), sql_string(r["email"]),
                sql_string(r["url"]), sql_string(r["ip"]), sql_string(r["date"]), sql_string(r["date"]),
                sql_string(r["content"]), "0", sql_string(r["approved"]), sql_string(r["agent"]),
                sql_string(r["type"]), "0", "0",
            ]
            print(f"INSERT INTO {prefix}comments VALUES ({', '.join(values)});")
    elif kind == "wp-cli":
        out = [
            {
                "comment_ID": str(r["id"]), "comment_post_ID": str(1 + r["id"] % 3),
                "comment_author": r["author"], "comment_author_email": r["email"],
                "comment_author_url": r["url"], "comment_author_IP": r["ip"],
                "comment_date": r["date"], "comment_content": r["content"],
                "comment_approved": r["approved"], "comment_agent": r["agent"],
                "comment_type": r["type"],
            }
            for r in rows
        ]
        # WP-CLI's JSON formatter is PHP's json_encode: one line, slashes escaped.
        print(json.dumps(out, separators=(",", ":")).replace("/", "\\/"))
    elif kind == "disqus":
        print('<?xml version="1.0" encoding="utf-8"?>')
        print('<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals" '
              'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
              'xsi:schemaLocation="http://disqus.com/api/schemas/1.0/disqus.xsd '
              'http://disqus.com/api/schemas/1.0/disqus-internals.xsd">')
        print('  <category dsq:id="9001">\n    <forum>blogexample</forum>\n    <title>General</title>\n'
              '    <isDefault>true</isDefault>\n  </category>')
        for t in range(3):
            print(f'  <thread dsq:id="{7000 + t}">\n    <id>{t + 1} {SITE}/?p={t + 1}</id>\n'
                  f'    <forum>blogexample</forum>\n    <category dsq:id="9001" />\n'
                  f'    <link>{SITE}/2024/03/post-{t + 1}/</link>\n    <title>Post {t + 1}</title>\n'
                  f'    <message />\n    <createdAt>2024-03-01T00:00:00Z</createdAt>\n'
                  f'    <author>\n      <email>owner@example.org</email>\n      <name>Owner</name>\n'
                  f'      <isAnonymous>false</isAnonymous>\n      <username>owner</username>\n    </author>\n'
                  f'    <ipAddress>192.0.2.250</ipAddress>\n    <isClosed>false</isClosed>\n'
                  f'    <isDeleted>false</isDeleted>\n  </thread>')
        for r in rows:
            if r["type"] != "comment" or r["approved"] in ("post-trashed",):
                continue
            deleted = "true" if r["approved"] in ("trash",) else "false"
            spam = "true" if r["approved"] == "spam" else "false"
            if r["approved"] == "0":
                continue  # Disqus exports hold published, spam and deleted posts.
            message = "<p>" + escape(r["content"]).replace("\n", "<br>") + "</p>"
            print(f'  <post dsq:id="{5000 + r["id"]}">\n    <id />\n'
                  f'    <message><![CDATA[{message}]]></message>\n'
                  f'    <createdAt>{r["date"].replace(" ", "T")}Z</createdAt>\n'
                  f'    <isDeleted>{deleted}</isDeleted>\n    <isSpam>{spam}</isSpam>\n'
                  f'    <author>\n      <email>{escape(r["email"])}</email>\n'
                  f'      <name>{escape(r["author"])}</name>\n      <isAnonymous>true</isAnonymous>\n'
                  f'    </author>\n    <ipAddress>{r["ip"]}</ipAddress>\n'
                  f'    <thread dsq:id="{7000 + r["id"] % 3}" />\n  </post>')
        print('</disqus>')
    elif kind == "jsonl":
        for r in rows:
            if r["approved"] not in ("1", "spam") or r["type"] != "comment":
                continue
            print(json.dumps({
                "id": str(r["id"]), "author": r["author"], "author_email": r["email"],
                "author_url": r["url"] or None, "user_ip": r["ip"], "content": r["content"],
                "label": "spam" if r["approved"] == "spam" else "ham",
            }, ensure_ascii=False))
    else:
        sys.exit(f"unknown kind {kind}")


if __name__ == "__main__":
    main()
