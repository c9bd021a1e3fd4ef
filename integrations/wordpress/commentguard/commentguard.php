<?php
/**
 * Plugin Name:       CommentGuard
 * Description:       Scores each new comment with a self-hosted CommentGuard service and sends moderators' spam / not-spam decisions back to it.
 * Version:           0.1.0
 * Requires at least: 5.6
 * Requires PHP:      7.4
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       commentguard
 *
 * This program is free software; you can redistribute it and/or modify it under the terms
 * of the GNU General Public License as published by the Free Software Foundation; either
 * version 2 of the License, or (at your option) any later version.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'COMMENTGUARD_VERSION', '0.1.0' );

require_once __DIR__ . '/includes/class-commentguard-client.php';
require_once __DIR__ . '/includes/class-commentguard-scorer.php';
require_once __DIR__ . '/includes/class-commentguard-feedback.php';
require_once __DIR__ . '/includes/class-commentguard-backfill.php';

if ( is_admin() ) {
	require_once __DIR__ . '/includes/class-commentguard-admin.php';
	CommentGuard_Admin::register();
}

CommentGuard_Scorer::instance()->register();
CommentGuard_Feedback::register();

if ( defined( 'WP_CLI' ) && WP_CLI ) {
	require_once __DIR__ . '/includes/class-commentguard-cli.php';
	WP_CLI::add_command( 'commentguard', 'CommentGuard_CLI' );
}
