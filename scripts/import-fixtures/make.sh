#!/usr/bin/env bash
# Makes the import fixtures in fixtures/import/ with the real tools, from comments of
# ../shared/datasets/blog-comments (see comments.py for which and how edited):
#   wp_comments.sql                  mariadb-dump of a wp_comments table created with
#                                    WordPress's own schema (Debian package `wordpress`)
#   wp_comments-complete-insert.sql  the same table dumped with --complete-insert
#                                    --skip-extended-insert (column lists, one row a statement)
#   site-blog7.sql                   mariadb-dump of a whole site: every WordPress table with
#                                    the prefix blog7_ (posts, options, comments, …)
#   wxr.xml                          WordPress's own export (export_wp()), when php-cli works
#   wp-cli.json, disqus.xml, labelled.jsonl   written by formats.py
#
# Needs: a MariaDB server (MARIADB_HOST, default 127.0.0.1, user root, no password),
# mariadb-dump, python3, apt-get (to fetch the wordpress package without installing it);
# php-cli and php-mysql for wxr.xml. Run from the repository root:
#   bash scripts/import-fixtures/make.sh [DATASETS_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=fixtures/import
datasets=${1:-${COMMENTGUARD_SHARED:-../shared}/datasets}
host=${MARIADB_HOST:-127.0.0.1}
db() { mariadb --default-character-set=utf8mb4 -h "$host" -uroot "$@"; }
dump() { mariadb-dump -h "$host" -uroot --skip-dump-date "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download wordpress >/dev/null 2>&1 && dpkg -x wordpress_*.deb wp)
wp="$work/wp/usr/share/wordpress"
schema="$wp/wp-admin/includes/schema.php"
mkdir -p "$out"
python3 "$here/comments.py" "$datasets" > "$work/comments.jsonl"

# One table, as a blog that dumps only its comments.
db -e "DROP DATABASE IF EXISTS cg_import_wp; CREATE DATABASE cg_import_wp CHARACTER SET utf8mb4"
{ python3 "$here/schema.py" "$schema" wp_ --only comments
  python3 "$here/formats.py" inserts wp_ < "$work/comments.jsonl"; } | db cg_import_wp
dump cg_import_wp wp_comments > "$out/wp_comments.sql"
dump --complete-insert --skip-extended-insert cg_import_wp wp_comments \
  > "$out/wp_comments-complete-insert.sql"

# A whole site with another prefix.
db -e "DROP DATABASE IF EXISTS cg_import_site; CREATE DATABASE cg_import_site CHARACTER SET utf8mb4"
{ python3 "$here/schema.py" "$schema" blog7_
  echo "INSERT INTO blog7_options (option_name, option_value, autoload) VALUES ('siteurl', 'https://blog.example.com', 'yes'), ('blogname', 'An example blog', 'yes');"
  for p in 1 2 3; do
    echo "INSERT INTO blog7_posts (ID, post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, post_content_filtered, guid, post_type) VALUES ($p, 1, '2024-03-01 00:00:00', '2024-03-01 00:00:00', 'Post $p: it''s a post; with (parentheses), \\\\backslashes\\\\ and \"quotes\".', 'Post $p', '', 'publish', 'post-$p', '', '', '2024-03-01 00:00:00', '2024-03-01 00:00:00', '', 'https://blog.example.com/?p=$p', 'post');"
  done
  echo "INSERT INTO blog7_commentmeta (comment_id, meta_key, meta_value) VALUES (1, 'akismet_result', 'false');"
  python3 "$here/formats.py" inserts blog7_ < "$work/comments.jsonl"; } | db cg_import_site
dump cg_import_site > "$out/site-blog7.sql"

python3 "$here/formats.py" wp-cli < "$work/comments.jsonl" > "$out/wp-cli.json"
python3 "$here/formats.py" disqus < "$work/comments.jsonl" > "$out/disqus.xml"
python3 "$here/formats.py" jsonl < "$work/comments.jsonl" > "$out/labelled.jsonl"

if command -v php >/dev/null && php -m | grep -qi mysqli; then
  bash "$here/wxr.sh" "$wp" "$host" "$work/comments.jsonl" > "$out/wxr.xml"
else
  echo "php-cli with mysqli not found: wxr.xml left as it is" >&2
fi
ls -l "$out"
