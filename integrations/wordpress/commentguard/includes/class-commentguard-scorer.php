<?php
/**
 * Scores each new comment before it is stored and maps the verdict to a comment status.
 *
 * @package CommentGuard
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Hooks `pre_comment_approved` (the comment is complete but not yet stored, after
 * WordPress's own duplicate and flood checks) and `comment_post` (the id is known: the
 * verdict is written as comment meta).
 */
class CommentGuard_Scorer {

	const HONEYPOT_FIELD = 'cg_hp';
	const RENDERED_FIELD = 'cg_ts';

	/**
	 * The one instance; holds the verdicts of this request until the comments are stored.
	 *
	 * @var CommentGuard_Scorer|null
	 */
	private static $instance = null;

	/**
	 * Outcomes by comment fingerprint, for `comment_post` and for WordPress's second
	 * `wp_allow_comment` call when the first insert fails.
	 *
	 * @var array
	 */
	private $outcomes = array();

	/**
	 * The instance the hooks use.
	 *
	 * @return CommentGuard_Scorer
	 */
	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}

	/** Adds the hooks. */
	public function register() {
		add_filter( 'pre_comment_approved', array( $this, 'decide' ), 20, 2 );
		add_action( 'comment_post', array( $this, 'store_meta' ), 1, 3 );
		add_action( 'comment_form', array( $this, 'form_fields' ) );
	}

	/**
	 * Prints a hidden honeypot field and a signed render time into the comment form.
	 */
	public function form_fields() {
		$s = CommentGuard_Client::settings();
		if ( empty( $s['honeypot'] ) ) {
			return;
		}
		$now = (string) time();
		printf(
			'<p style="display:none" aria-hidden="true"><label>%s <input type="text" name="%s" value="" tabindex="-1" autocomplete="off"></label></p><input type="hidden" name="%s" value="%s">',
			esc_html__( 'Leave this field empty', 'commentguard' ),
			esc_attr( self::HONEYPOT_FIELD ),
			esc_attr( self::RENDERED_FIELD ),
			esc_attr( $now . '.' . wp_hash( 'commentguard-form|' . $now ) )
		);
	}

	/**
	 * The form fields this plugin added, when the request came through the comment form.
	 *
	 * @return array `honeypot` and `form_rendered_at`, each only if present and valid.
	 */
	private function form_signals() {
		$out = array();
		// phpcs:disable WordPress.Security.NonceVerification.Missing -- the public comment form has no nonce.
		if ( isset( $_POST[ self::HONEYPOT_FIELD ] ) && is_string( $_POST[ self::HONEYPOT_FIELD ] ) ) {
			$out['honeypot'] = wp_unslash( $_POST[ self::HONEYPOT_FIELD ] );
		}
		if ( isset( $_POST[ self::RENDERED_FIELD ] ) && is_string( $_POST[ self::RENDERED_FIELD ] ) ) {
			$parts = explode( '.', wp_unslash( $_POST[ self::RENDERED_FIELD ] ), 2 );
			// Only a time this site signed: a forged one must not make a bot look slow.
			if ( 2 === count( $parts ) && ctype_digit( $parts[0] )
				&& hash_equals( wp_hash( 'commentguard-form|' . $parts[0] ), $parts[1] ) ) {
				$out['form_rendered_at'] = gmdate( 'Y-m-d\TH:i:s\Z', (int) $parts[0] );
			}
		}
		// phpcs:enable
		return $out;
	}

	/**
	 * `pre_comment_approved`: scores the comment and returns the status it is stored with.
	 *
	 * @param int|string|WP_Error $approved    WordPress's own decision: 1, 0, 'spam', 'trash'.
	 * @param array               $commentdata The comment about to be stored.
	 * @return int|string|WP_Error
	 */
	public function decide( $approved, $commentdata ) {
		// WordPress already refused it, or already filed it as spam or trash: nothing to add.
		if ( is_wp_error( $approved ) || 'spam' === $approved || 'trash' === $approved ) {
			return $approved;
		}
		// Comments by people who may moderate are theirs to judge (as WordPress does).
		if ( ! empty( $commentdata['user_id'] ) && user_can( (int) $commentdata['user_id'], 'moderate_comments' ) ) {
			return $approved;
		}
		$key = self::fingerprint( $commentdata );
		if ( ! isset( $this->outcomes[ $key ] ) ) {
			$this->outcomes[ $key ] = $this->score( $commentdata );
		}
		return self::status_for( $this->outcomes[ $key ], $approved );
	}

	/**
	 * Calls the service; the outcome keeps what is needed for the meta and the status.
	 *
	 * @param array $commentdata The comment about to be stored.
	 * @return array
	 */
	private function score( array $commentdata ) {
		$fields = CommentGuard_Client::fields_from_comment( $commentdata );
		if ( ! empty( $_SERVER['HTTP_REFERER'] ) ) {
			$fields['referrer'] = esc_url_raw( wp_unslash( $_SERVER['HTTP_REFERER'] ) );
		}
		$fields = array_merge( $fields, $this->form_signals() );
		return self::outcome_from( CommentGuard_Client::score( $fields ) );
	}

	/**
	 * The outcome of a score call: the verdict and what the meta keeps, or `error`.
	 *
	 * @param array $result From CommentGuard_Client::score().
	 * @return array
	 */
	public static function outcome_from( array $result ) {
		$body = $result['ok'] ? $result['body'] : array();
		if ( $result['ok'] && ! in_array( $body['verdict'] ?? '', array( 'approve', 'hold', 'spam', 'discard' ), true ) ) {
			$result = array(
				'ok'    => false,
				'error' => 'answer without a known verdict',
				'ms'    => $result['ms'],
			);
		}
		if ( ! $result['ok'] ) {
			CommentGuard_Client::count( 'score_failures', $result['error'] );
			return array(
				'verdict' => 'error',
				'error'   => $result['error'],
				'ms'      => $result['ms'],
			);
		}
		$reasons = array();
		foreach ( (array) ( $body['reasons'] ?? array() ) as $r ) {
			if ( is_array( $r ) && isset( $r['id'] ) ) {
				$reasons[] = array(
					'id'     => (string) $r['id'],
					'detail' => (string) ( $r['detail'] ?? '' ),
				);
			}
		}
		return array(
			'verdict'     => (string) $body['verdict'],
			'verdict_id'  => (string) ( $body['verdict_id'] ?? '' ),
			'probability' => (float) ( $body['spam_probability'] ?? 0 ),
			'model'       => (string) ( $body['model_version'] ?? '' ),
			'reasons'     => $reasons,
			'ms'          => $result['ms'],
		);
	}

	/**
	 * The status a verdict gives, starting from WordPress's own decision.
	 *
	 * @param array      $outcome  From score().
	 * @param int|string $approved WordPress's own decision (1 or 0 here).
	 * @return int|string|WP_Error
	 */
	public static function status_for( array $outcome, $approved ) {
		switch ( $outcome['verdict'] ) {
			case 'approve':
				return $approved;
			case 'spam':
				return 'spam';
			case 'discard':
				$s = CommentGuard_Client::settings();
				if ( empty( $s['discard'] ) ) {
					return 'spam';
				}
				CommentGuard_Client::count( 'discarded' );
				// wp-comments-post.php reads a bare status code, the REST API an array.
				$data = defined( 'REST_REQUEST' ) && REST_REQUEST ? array( 'status' => 403 ) : 403;
				return new WP_Error( 'commentguard_discarded', __( 'Your comment could not be posted.', 'commentguard' ), $data );
			default:
				// `hold`, and every failure: a person looks before anyone else sees it.
				return 0;
		}
	}

	/**
	 * `comment_post`: writes the verdict of the comment just stored as its meta.
	 *
	 * @param int        $comment_id  The new comment's id.
	 * @param int|string $approved    The status it was stored with.
	 * @param array      $commentdata The comment.
	 */
	public function store_meta( $comment_id, $approved, $commentdata ) {
		$key = self::fingerprint( $commentdata );
		if ( isset( $this->outcomes[ $key ] ) ) {
			self::write_meta( (int) $comment_id, $this->outcomes[ $key ] );
			unset( $this->outcomes[ $key ] );
		}
	}

	/**
	 * Stores an outcome as the comment's one `commentguard` meta row (replacing an earlier one).
	 *
	 * One row, not one per field: each meta write is a database commit, and this runs while
	 * the commenter waits.
	 *
	 * @param int   $comment_id Comment id.
	 * @param array $outcome    From score().
	 */
	public static function write_meta( $comment_id, array $outcome ) {
		$outcome['ms']   = round( (float) $outcome['ms'], 1 );
		$outcome['time'] = time();
		// wp_slash: update_comment_meta unslashes, which would eat backslashes in the reasons.
		update_comment_meta( $comment_id, 'commentguard', wp_slash( $outcome ) );
	}

	/**
	 * A comment's stored outcome: `verdict` (approve, hold, spam, discard, or error when the
	 * service failed), `verdict_id`, `probability`, `model`, `reasons`, `error`, `ms`, `time`.
	 *
	 * @param int $comment_id Comment id.
	 * @return array Empty when the comment was never scored.
	 */
	public static function outcome( $comment_id ) {
		$meta = get_comment_meta( $comment_id, 'commentguard', true );
		return is_array( $meta ) ? $meta : array();
	}

	/**
	 * Identifies a comment within this request before it has an id.
	 *
	 * @param array $c Comment data.
	 * @return string
	 */
	private static function fingerprint( array $c ) {
		return md5(
			( $c['comment_post_ID'] ?? '' ) . "\0" . ( $c['comment_author'] ?? '' ) . "\0"
			. ( $c['comment_author_email'] ?? '' ) . "\0" . ( $c['comment_content'] ?? '' )
		);
	}
}
