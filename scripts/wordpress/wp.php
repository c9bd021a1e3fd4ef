<?php
/**
 * A few WP-CLI-like commands for scripts/wordpress-e2e.sh (WP-CLI is not packaged in
 * Debian bookworm). Loads WordPress through the Debian config named by the
 * WORDPRESS_CONFIG environment variable (/etc/wordpress/config-NAME.php).
 *
 *   php wp.php install URL ADMIN_PASSWORD      install WordPress, activate the plugin,
 *                                             print an application password for admin
 *   php wp.php settings JSON                   merge JSON into the plugin's settings
 *   php wp.php option NAME VALUE               update_option
 *   php wp.php comment AUTHOR                  "ID STATUS VERDICT MS" of AUTHOR's latest comment, or "none"
 *   php wp.php meta ID FIELD                   a field of a comment's stored verdict (verdict_id, reasons, error...)
 *   php wp.php ms-since ID                     plugin call times (ms) of comments with id > ID, one a line
 *   php wp.php max-id                          the highest comment id
 *   php wp.php stat NAME                       a plugin counter
 *   php wp.php uninstall                       deactivate and uninstall the plugin; print what is left
 *   php wp.php stats                           every plugin counter, as JSON
 *   php wp.php backfill                        CommentGuard_Backfill::pending(), as JSON
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}
$_SERVER['HTTP_HOST']   = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
$cmd                    = $argv[1] ?? '';
if ( 'install' === $cmd ) {
	define( 'WP_INSTALLING', true );
}
require '/usr/share/wordpress/wp-load.php';

const CG_PLUGIN = 'commentguard/commentguard.php';

/**
 * Stops with a message on stderr.
 *
 * @param string $msg Message.
 */
function cg_fail( $msg ) {
	fwrite( STDERR, "wp.php: $msg\n" );
	exit( 1 );
}

switch ( $cmd ) {
	case 'install':
		require_once ABSPATH . 'wp-admin/includes/upgrade.php';
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
		$result = wp_install( 'CommentGuard e2e', 'admin', 'admin@example.invalid', false, '', wp_slash( $argv[3] ) );
		if ( is_wp_error( $result ) ) {
			cg_fail( 'install: ' . $result->get_error_message() );
		}
		// A first-time commenter would otherwise be held by WordPress itself.
		update_option( 'comment_previously_approved', 0 );
		$activated = activate_plugin( CG_PLUGIN );
		if ( is_wp_error( $activated ) ) {
			cg_fail( 'activate: ' . $activated->get_error_message() );
		}
		$app = WP_Application_Passwords::create_new_application_password( 1, array( 'name' => 'e2e' ) );
		if ( is_wp_error( $app ) ) {
			cg_fail( 'application password: ' . $app->get_error_message() );
		}
		echo $app[0], "\n";
		break;
	case 'settings':
		$add = json_decode( $argv[2], true );
		if ( ! is_array( $add ) ) {
			cg_fail( 'settings: not a JSON object' );
		}
		update_option( 'commentguard_settings', array_merge( CommentGuard_Client::settings(), $add ) );
		break;
	case 'option':
		update_option( $argv[2], $argv[3] );
		break;
	case 'comment':
		global $wpdb;
		$row = $wpdb->get_row( $wpdb->prepare( "SELECT comment_ID, comment_approved FROM $wpdb->comments WHERE comment_author = %s ORDER BY comment_ID DESC LIMIT 1", $argv[2] ) );
		if ( ! $row ) {
			echo "none\n";
			break;
		}
		$outcome = CommentGuard_Scorer::outcome( (int) $row->comment_ID );
		echo $row->comment_ID, ' ', $row->comment_approved, ' ', $outcome['verdict'] ?? '-', ' ', $outcome['ms'] ?? '-', "\n";
		break;
	case 'meta':
		$value = CommentGuard_Scorer::outcome( (int) $argv[2] )[ $argv[3] ] ?? '';
		echo is_array( $value ) ? wp_json_encode( $value ) : $value, "\n";
		break;
	case 'ms-since':
		global $wpdb;
		foreach ( $wpdb->get_col( $wpdb->prepare( "SELECT comment_ID FROM $wpdb->comments WHERE comment_ID > %d", (int) $argv[2] ) ) as $id ) {
			$outcome = CommentGuard_Scorer::outcome( (int) $id );
			if ( isset( $outcome['ms'] ) ) {
				echo $outcome['ms'], "\n";
			}
		}
		break;
	case 'max-id':
		global $wpdb;
		echo (int) $wpdb->get_var( "SELECT MAX(comment_ID) FROM $wpdb->comments" ), "\n";
		break;
	case 'stat':
		$stats = get_option( 'commentguard_stats', array() );
		echo (int) ( $stats[ $argv[2] ] ?? 0 ), "\n";
		break;
	case 'stats':
		echo wp_json_encode( get_option( 'commentguard_stats', array() ) ), "\n";
		break;
	case 'backfill':
		echo wp_json_encode( CommentGuard_Backfill::pending() ), "\n";
		break;
	case 'uninstall':
		// What Plugins → Delete does: deactivate, then run uninstall.php.
		require_once ABSPATH . 'wp-admin/includes/plugin.php';
		deactivate_plugins( CG_PLUGIN );
		uninstall_plugin( CG_PLUGIN );
		global $wpdb;
		$left = (int) $wpdb->get_var( "SELECT COUNT(*) FROM $wpdb->commentmeta WHERE meta_key LIKE 'commentguard%'" );
		echo $left, ' ', false === get_option( 'commentguard_settings' ) ? 'no-settings' : 'settings', ' ', false === get_option( 'commentguard_stats' ) ? 'no-stats' : 'stats', "\n";
		break;
	default:
		cg_fail( "unknown command '$cmd'" );
}
