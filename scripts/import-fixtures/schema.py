#!/usr/bin/env python3
"""WordPress's own table definitions, for a given table prefix, as SQL.

Reads wp-admin/includes/schema.php (Debian package `wordpress`) and prints its
`$blog_tables` CREATE TABLE statements with the prefix, character set and index length a
WordPress install on MariaDB uses. With --only NAME (e.g. comments) prints that table only.

Usage: schema.py SCHEMA_PHP PREFIX [--only NAME]
"""
import re
import sys


def main():
    path, prefix = sys.argv[1], sys.argv[2]
    only = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--only" else None
    php = open(path, encoding="utf-8").read()
    start = php.index('$blog_tables = "') + len('$blog_tables = "')
    end = php.index('";', start)
    sql = php[start:end].replace("\\n", "\n")
    sql = sql.replace("$charset_collate", "DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci")
    sql = sql.replace("$max_index_length", "191")
    sql = re.sub(r"\$wpdb->(\w+)", lambda m: prefix + m.group(1), sql)
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    for s in statements:
        if only and not s.startswith(f"CREATE TABLE {prefix}{only} "):
            continue
        print(s + ";\n")


if __name__ == "__main__":
    main()
