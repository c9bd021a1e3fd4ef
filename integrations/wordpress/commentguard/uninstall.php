<?php
/**
 * Removes the plugin's settings, counters and comment meta when it is deleted in wp-admin.
 * Comments themselves and their statuses stay as they are.
 *
 * @package CommentGuard
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

delete_option( 'commentguard_settings' );
delete_option( 'commentguard_stats' );

global $wpdb;
// phpcs:ignore WordPress.DB.DirectDatabaseQuery -- one bulk delete instead of a query per comment.
$wpdb->query( "DELETE FROM {$wpdb->commentmeta} WHERE meta_key = 'commentguard' OR meta_key LIKE 'commentguard\\_%'" );
