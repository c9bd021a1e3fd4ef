#!/usr/bin/env bash
# Prints a WXR export written by WordPress itself (export_wp(), what Tools → Export runs):
# installs WordPress from the unpacked Debian package WP_DIR into a fresh MariaDB database
# on HOST, adds three posts and the comments of COMMENTS_JSONL (comments.py's rows) with
# wp_insert_comment(), and exports. Needs php-cli and php-mysql.
# Usage: wxr.sh WP_DIR HOST COMMENTS_JSONL
set -euo pipefail
wp=$1 host=$2 comments=$3
here=$(cd "$(dirname "$0")" && pwd)
mariadb -h "$host" -uroot -e "DROP DATABASE IF EXISTS cg_import_wxr; CREATE DATABASE cg_import_wxr CHARACTER SET utf8mb4"
cat > "$wp/wp-config.php" <<PHP
<?php
define('DB_NAME', 'cg_import_wxr');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', '$host');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('WP_CONTENT_DIR', '$wp/wp-content');
\$table_prefix = 'wp_';
if (!defined('ABSPATH')) define('ABSPATH', '$wp/');
require_once ABSPATH . 'wp-settings.php';
PHP
COMMENTS="$comments" php -d display_errors=stderr -d error_reporting=E_ERROR "$here/wxr.php" "$wp"
