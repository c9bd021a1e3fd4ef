<?php
/**
 * Scores comments already stored: every pending one, and resends labels that failed.
 *
 * @package CommentGuard
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The work behind `wp commentguard backfill`, callable without WP-CLI.
 */
class CommentGuard_Backfill {

	/**
	 * Scores every pending comment (with its WordPress id) and applies the verdict.
	 *
	 * A pending comment stays pending unless the verdict moves it: `spam` and `discard`
	 * go to spam (never deleted here); `approve` publishes it only if it was held because
	 * the service could not be reached and WordPress's own rules would have let it through.
	 *
	 * @param int  $limit   At most this many comments (0: all).
	 * @param bool $dry_run Score and report, change nothing.
	 * @return array Counts: scored, failed, approved, spam, held, and feedback resent.
	 */
	public static function pending( $limit = 0, $dry_run = false ) {
		$counts = array(
			'scored'   => 0,
			'failed'   => 0,
			'approved' => 0,
			'spam'     => 0,
			'held'     => 0,
		);
		$ids    = get_comments(
			array(
				'status'  => 'hold',
				'fields'  => 'ids',
				'number'  => $limit > 0 ? (int) $limit : '',
				'orderby' => 'comment_ID',
				'order'   => 'ASC',
			)
		);
		foreach ( $ids as $id ) {
			$comment = get_comment( $id, ARRAY_A );
			if ( ! $comment ) {
				continue;
			}
			$outcome = CommentGuard_Scorer::outcome_from( CommentGuard_Client::score( CommentGuard_Client::fields_from_comment( $comment ) ) );
			if ( 'error' === $outcome['verdict'] ) {
				++$counts['failed'];
				continue;
			}
			++$counts['scored'];
			++$counts[ self::apply( $comment, $outcome, $dry_run ) ];
		}
		$counts['feedback_resent'] = $dry_run ? 0 : self::resend_feedback();
		return $counts;
	}

	/**
	 * Applies one backfill verdict.
	 *
	 * @param array $comment Comment row.
	 * @param array $outcome From CommentGuard_Scorer::outcome_from().
	 * @param bool  $dry_run Change nothing.
	 * @return string approved, spam or held.
	 */
	private static function apply( array $comment, array $outcome, $dry_run ) {
		$id      = (int) $comment['comment_ID'];
		$verdict = $outcome['verdict'];
		$was     = (string) ( CommentGuard_Scorer::outcome( $id )['verdict'] ?? '' );
		$action  = 'held';
		if ( 'spam' === $verdict || 'discard' === $verdict ) {
			$action = 'spam';
		} elseif ( 'approve' === $verdict && 'error' === $was && check_comment(
			$comment['comment_author'],
			$comment['comment_author_email'],
			$comment['comment_author_url'],
			$comment['comment_content'],
			$comment['comment_author_IP'],
			$comment['comment_agent'],
			$comment['comment_type']
		) ) {
			$action = 'approved';
		}
		if ( $dry_run ) {
			return $action;
		}
		CommentGuard_Scorer::write_meta( $id, $outcome );
		// Status changes made here are the service's, not a moderator's: no feedback.
		remove_action( 'transition_comment_status', array( 'CommentGuard_Feedback', 'on_transition' ), 10 );
		if ( 'spam' === $action ) {
			wp_spam_comment( $id );
		} elseif ( 'approved' === $action ) {
			wp_set_comment_status( $id, 'approve' );
		}
		add_action( 'transition_comment_status', array( 'CommentGuard_Feedback', 'on_transition' ), 10, 3 );
		return $action;
	}

	/**
	 * Resends labels whose first sending failed.
	 *
	 * @return int How many the service recorded.
	 */
	public static function resend_feedback() {
		$sent     = 0;
		$comments = get_comments(
			array(
				'meta_key' => 'commentguard_feedback_pending', // phpcs:ignore WordPress.DB.SlowDBQuery
				'status'   => array( 'hold', 'approve', 'spam', 'trash' ),
			)
		);
		foreach ( $comments as $comment ) {
			$label = (string) get_comment_meta( $comment->comment_ID, 'commentguard_feedback_pending', true );
			if ( in_array( $label, array( 'spam', 'ham' ), true )
				&& CommentGuard_Feedback::send( $comment, $label, 'wordpress: resent by backfill' ) ) {
				++$sent;
			}
		}
		return $sent;
	}
}
