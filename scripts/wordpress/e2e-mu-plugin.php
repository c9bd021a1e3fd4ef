<?php
/**
 * Plugin Name: CommentGuard e2e scaffolding
 * Description: Test-only. Turns off WordPress's own comment flood check (one post per 15 s
 * per IP), so scripts/wordpress-e2e.sh can post 200 comments from 127.0.0.1 for its latency
 * figures. Never install this on a real site.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
add_filter( 'comment_flood_filter', '__return_false', 99 );
// No mail: the test machine has no MTA, and a sendmail call per comment would blur the timings.
add_filter( 'pre_wp_mail', '__return_false' );
// Latency baseline: a post carrying this header skips CommentGuard's scoring, so the e2e can
// alternate posts with and without the plugin under the same load.
if ( isset( $_SERVER['HTTP_X_COMMENTGUARD_E2E_OFF'] ) ) {
	add_action(
		'plugins_loaded',
		function () {
			if ( class_exists( 'CommentGuard_Scorer' ) ) {
				$scorer = CommentGuard_Scorer::instance();
				remove_filter( 'pre_comment_approved', array( $scorer, 'decide' ), 20 );
				remove_action( 'comment_post', array( $scorer, 'store_meta' ), 1 );
			}
		}
	);
}
