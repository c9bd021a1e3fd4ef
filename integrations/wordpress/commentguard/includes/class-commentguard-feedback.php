<?php
/**
 * Sends moderators' decisions to `POST /v1/feedback`.
 *
 * @package CommentGuard
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Listens to comment status changes, whichever screen or API made them (the comments
 * list, the comment editor, bulk actions, the REST API, XML-RPC).
 */
class CommentGuard_Feedback {

	/** Adds the hook. */
	public static function register() {
		add_action( 'transition_comment_status', array( __CLASS__, 'on_transition' ), 10, 3 );
	}

	/**
	 * The label a status change means, or null when it teaches nothing.
	 *
	 * @param string     $new     New status: approved, unapproved, spam, trash.
	 * @param string     $old     Old status.
	 * @param WP_Comment $comment The comment.
	 * @return string|null 'spam' or 'ham'.
	 */
	public static function label_for( $new, $old, $comment ) {
		if ( $new === $old ) {
			return null;
		}
		if ( 'spam' === $new ) {
			return 'spam';
		}
		if ( 'spam' === $old && in_array( $new, array( 'approved', 'unapproved' ), true ) ) {
			return 'ham';
		}
		$verdict = (string) ( CommentGuard_Scorer::outcome( $comment->comment_ID )['verdict'] ?? '' );
		if ( 'unapproved' === $old && 'approved' === $new && in_array( $verdict, array( 'hold', 'spam', 'discard', 'error' ), true ) ) {
			return 'ham';
		}
		$s = CommentGuard_Client::settings();
		if ( 'trash' === $new && 'unapproved' === $old && ! empty( $s['trash_is_spam'] ) && '' !== $verdict ) {
			return 'spam';
		}
		return null;
	}

	/**
	 * `transition_comment_status`: sends the label, once per comment and label.
	 *
	 * @param string     $new     New status.
	 * @param string     $old     Old status.
	 * @param WP_Comment $comment The comment.
	 */
	public static function on_transition( $new, $old, $comment ) {
		$label = self::label_for( $new, $old, $comment );
		if ( null === $label ) {
			return;
		}
		if ( get_comment_meta( $comment->comment_ID, 'commentguard_feedback', true ) === $label ) {
			return;
		}
		self::send( $comment, $label, self::note( $new, $old ) );
	}

	/**
	 * Sends one label; a failure is counted and left for `wp commentguard backfill` to resend.
	 *
	 * @param WP_Comment $comment The comment.
	 * @param string     $label   'spam' or 'ham'.
	 * @param string     $note    Why, for the label log.
	 * @return bool Whether the service recorded it.
	 */
	public static function send( $comment, $label, $note ) {
		$s = CommentGuard_Client::settings();
		if ( '' === $s['moderator_key'] ) {
			update_comment_meta( $comment->comment_ID, 'commentguard_feedback_pending', $label );
			CommentGuard_Client::count( 'feedback_failures', 'no moderator key set' );
			return false;
		}
		$user = wp_get_current_user();
		$body = array(
			'label'     => $label,
			'moderator' => $user && $user->exists() ? $user->user_login : 'wordpress',
			'note'      => $note,
		);
		$verdict_id = (string) ( CommentGuard_Scorer::outcome( $comment->comment_ID )['verdict_id'] ?? '' );
		if ( '' !== $verdict_id ) {
			$body['verdict_id'] = $verdict_id;
		} else {
			$body['comment'] = CommentGuard_Client::fields_from_comment( get_comment( $comment->comment_ID, ARRAY_A ) );
		}
		$result = CommentGuard_Client::feedback( $body );
		// The verdict may have left the service's cache (7 days): the comment itself still works.
		if ( ! $result['ok'] && isset( $body['verdict_id'] ) && 404 === ( $result['status'] ?? 0 ) ) {
			unset( $body['verdict_id'] );
			$body['comment'] = CommentGuard_Client::fields_from_comment( get_comment( $comment->comment_ID, ARRAY_A ) );
			$result          = CommentGuard_Client::feedback( $body );
		}
		if ( ! $result['ok'] ) {
			update_comment_meta( $comment->comment_ID, 'commentguard_feedback_pending', $label );
			CommentGuard_Client::count( 'feedback_failures', $result['error'] );
			return false;
		}
		delete_comment_meta( $comment->comment_ID, 'commentguard_feedback_pending' );
		update_comment_meta( $comment->comment_ID, 'commentguard_feedback', $label );
		update_comment_meta( $comment->comment_ID, 'commentguard_label_id', (string) ( $result['body']['label_id'] ?? '' ) );
		CommentGuard_Client::count( 'feedback_sent' );
		return true;
	}

	/**
	 * A note for the label log saying which change made the label.
	 *
	 * @param string $new New status.
	 * @param string $old Old status.
	 * @return string
	 */
	private static function note( $new, $old ) {
		return 'wordpress: ' . $old . ' -> ' . $new;
	}
}
