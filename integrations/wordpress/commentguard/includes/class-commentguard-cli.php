<?php
/**
 * `wp commentguard`: WP-CLI commands.
 *
 * @package CommentGuard
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Backfills comments through the CommentGuard service.
 */
class CommentGuard_CLI {

	/**
	 * Scores every pending comment and resends labels that failed to send.
	 *
	 * Spam and discard verdicts move the comment to spam; an approve verdict publishes a
	 * comment only if it was held because the service was unreachable and WordPress's own
	 * rules allow it. Sending existing spam and approved comments as history waits for the
	 * service's import endpoint, which does not exist yet.
	 *
	 * ## OPTIONS
	 *
	 * [--limit=<n>]
	 * : Score at most this many pending comments.
	 *
	 * [--dry-run]
	 * : Score and report; change nothing.
	 *
	 * ## EXAMPLES
	 *
	 *     wp commentguard backfill --limit=500
	 *
	 * @param array $args       Positional arguments (none).
	 * @param array $assoc_args Options.
	 */
	public function backfill( $args, $assoc_args ) {
		$limit  = isset( $assoc_args['limit'] ) ? (int) $assoc_args['limit'] : 0;
		$counts = CommentGuard_Backfill::pending( $limit, ! empty( $assoc_args['dry-run'] ) );
		foreach ( $counts as $name => $n ) {
			WP_CLI::log( sprintf( '%-16s %d', $name, $n ) );
		}
		if ( $counts['failed'] > 0 ) {
			WP_CLI::warning( $counts['failed'] . ' comments could not be scored; see the settings page for the last error.' );
		}
		WP_CLI::success( 'Backfill done.' );
	}
}
