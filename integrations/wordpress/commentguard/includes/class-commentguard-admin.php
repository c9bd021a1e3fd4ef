<?php
/**
 * The settings page, the "test connection" button and the comments-list column.
 *
 * @package CommentGuard
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Everything in wp-admin.
 */
class CommentGuard_Admin {

	const PAGE = 'commentguard';

	/** Adds the hooks. */
	public static function register() {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_init', array( __CLASS__, 'register_setting' ) );
		add_action( 'admin_post_commentguard_test', array( __CLASS__, 'test_connection' ) );
		add_filter( 'manage_edit-comments_columns', array( __CLASS__, 'add_column' ) );
		add_action( 'manage_comments_custom_column', array( __CLASS__, 'column' ), 10, 2 );
	}

	/** Adds Settings → CommentGuard. */
	public static function menu() {
		add_options_page( 'CommentGuard', 'CommentGuard', 'manage_options', self::PAGE, array( __CLASS__, 'page' ) );
	}

	/** Registers the one option with its sanitiser. */
	public static function register_setting() {
		register_setting(
			self::PAGE,
			CommentGuard_Client::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( __CLASS__, 'sanitize' ),
			)
		);
	}

	/**
	 * Cleans the submitted settings; an empty key field keeps the stored key.
	 *
	 * @param mixed $in Submitted values.
	 * @return array
	 */
	public static function sanitize( $in ) {
		$old = CommentGuard_Client::settings();
		$in  = is_array( $in ) ? $in : array();
		$url = esc_url_raw( trim( (string) ( $in['url'] ?? '' ) ), array( 'http', 'https' ) );
		$out = array(
			'url'              => '' !== $url ? $url : $old['url'],
			'timeout'          => self::seconds( $in['timeout'] ?? '', 2.0 ),
			'feedback_timeout' => self::seconds( $in['feedback_timeout'] ?? '', 5.0 ),
			'discard'          => ! empty( $in['discard'] ),
			'trash_is_spam'    => ! empty( $in['trash_is_spam'] ),
			'honeypot'         => ! empty( $in['honeypot'] ),
		);
		foreach ( array( 'site_key', 'moderator_key' ) as $k ) {
			$v         = trim( (string) ( $in[ $k ] ?? '' ) );
			$out[ $k ] = '' === $v ? $old[ $k ] : sanitize_text_field( $v );
		}
		return $out;
	}

	/**
	 * A timeout in seconds, 0.1 to 30, or the default.
	 *
	 * @param mixed $v        Submitted value.
	 * @param float $fallback Default.
	 * @return float
	 */
	private static function seconds( $v, $fallback ) {
		return is_numeric( $v ) ? min( 30.0, max( 0.1, (float) $v ) ) : $fallback;
	}

	/** Renders the settings page. */
	public static function page() {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$s   = CommentGuard_Client::settings();
		$opt = CommentGuard_Client::OPTION;
		echo '<div class="wrap"><h1>CommentGuard</h1>';
		$test = get_transient( 'commentguard_test_' . get_current_user_id() );
		if ( is_array( $test ) ) {
			delete_transient( 'commentguard_test_' . get_current_user_id() );
			echo '<div id="commentguard-test" class="notice notice-' . ( $test['ok'] ? 'success' : 'error' ) . '"><ul>';
			foreach ( $test['lines'] as $line ) {
				echo '<li>' . esc_html( $line ) . '</li>';
			}
			echo '</ul></div>';
		}
		echo '<form method="post" action="options.php">';
		settings_fields( self::PAGE );
		echo '<table class="form-table" role="presentation">';
		self::text_row( 'Service URL', $opt . '[url]', $s['url'], 'url', 'The CommentGuard service, e.g. http://127.0.0.1:8080.' );
		self::text_row( 'Site key', $opt . '[site_key]', '', 'password', self::key_hint( $s['site_key'], 'A site key for this site: commentguard keys create --role site --site ' . home_url() ) );
		self::text_row( 'Moderator key', $opt . '[moderator_key]', '', 'password', self::key_hint( $s['moderator_key'], 'A moderator key, used only to send spam / not-spam decisions to /v1/feedback.' ) );
		self::text_row( 'Scoring timeout (s)', $opt . '[timeout]', (string) $s['timeout'], 'number', 'After this the comment is held for moderation. Default 2.' );
		self::text_row( 'Feedback timeout (s)', $opt . '[feedback_timeout]', (string) $s['feedback_timeout'], 'number', 'Default 5; a failed label is resent by wp commentguard backfill.' );
		self::check_row( 'Discard', $opt . '[discard]', $s['discard'], 'Reject blatant spam (verdict discard) before it is stored. Off: it goes to spam.' );
		self::check_row( 'Trash is spam', $opt . '[trash_is_spam]', $s['trash_is_spam'], 'Trashing a pending comment that CommentGuard scored sends it as spam.' );
		self::check_row( 'Honeypot', $opt . '[honeypot]', $s['honeypot'], 'Add a hidden field and a signed render time to the comment form.' );
		echo '</table>';
		submit_button();
		echo '</form>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="commentguard_test">';
		wp_nonce_field( 'commentguard_test' );
		submit_button( __( 'Test connection', 'commentguard' ), 'secondary', 'submit', false );
		echo '</form>';
		self::stats_table();
		echo '</div>';
	}

	/**
	 * The counters: failures (with the last reason), discards, labels.
	 */
	private static function stats_table() {
		$stats = get_option( CommentGuard_Client::STATS, array() );
		$stats = is_array( $stats ) ? $stats : array();
		$rows  = array(
			'score_failures'    => 'Scoring failures (comment held)',
			'discarded'         => 'Discarded comments',
			'feedback_sent'     => 'Labels sent',
			'feedback_failures' => 'Labels that failed to send',
		);
		echo '<h2>Counters</h2><table class="widefat striped" id="commentguard-stats" style="max-width:50em"><tbody>';
		foreach ( $rows as $key => $title ) {
			$last = '';
			if ( isset( $stats[ $key . '_last' ]['time'] ) ) {
				$last = sprintf( 'last: %s UTC, %s', gmdate( 'Y-m-d H:i:s', (int) $stats[ $key . '_last' ]['time'] ), $stats[ $key . '_last' ]['reason'] );
			}
			printf(
				'<tr><th>%s</th><td data-counter="%s">%d</td><td>%s</td></tr>',
				esc_html( $title ),
				esc_attr( $key ),
				(int) ( $stats[ $key ] ?? 0 ),
				esc_html( $last )
			);
		}
		echo '</tbody></table>';
	}

	/**
	 * Describes a stored key without showing it.
	 *
	 * @param string $key  Stored key.
	 * @param string $hint What it is for.
	 * @return string
	 */
	private static function key_hint( $key, $hint ) {
		return ( '' === $key ? 'Not set. ' : 'Set (ends in …' . substr( $key, -4 ) . '); leave empty to keep. ' ) . $hint;
	}

	/**
	 * One text input row.
	 *
	 * @param string $title Label.
	 * @param string $name  Field name.
	 * @param string $value Value.
	 * @param string $type  Input type.
	 * @param string $help  Description.
	 */
	private static function text_row( $title, $name, $value, $type, $help ) {
		printf(
			'<tr><th scope="row">%s</th><td><input class="regular-text" type="%s" name="%s" value="%s"%s autocomplete="off"><p class="description">%s</p></td></tr>',
			esc_html( $title ),
			esc_attr( $type ),
			esc_attr( $name ),
			esc_attr( $value ),
			'number' === $type ? ' step="0.1" min="0.1" max="30"' : '',
			esc_html( $help )
		);
	}

	/**
	 * One checkbox row.
	 *
	 * @param string $title Label.
	 * @param string $name  Field name.
	 * @param bool   $on    Checked.
	 * @param string $help  Description.
	 */
	private static function check_row( $title, $name, $on, $help ) {
		printf(
			'<tr><th scope="row">%s</th><td><label><input type="checkbox" name="%s" value="1"%s> %s</label></td></tr>',
			esc_html( $title ),
			esc_attr( $name ),
			checked( $on, true, false ),
			esc_html( $help )
		);
	}

	/**
	 * `admin-post.php?action=commentguard_test`: /readyz, then each key, then back to the page.
	 */
	public static function test_connection() {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'commentguard' ), 403 );
		}
		check_admin_referer( 'commentguard_test' );
		$result = self::run_test();
		set_transient( 'commentguard_test_' . get_current_user_id(), $result, 300 );
		wp_safe_redirect( admin_url( 'options-general.php?page=' . self::PAGE ) );
		exit;
	}

	/**
	 * The connection test itself.
	 *
	 * @return array `ok` and `lines` to show.
	 */
	public static function run_test() {
		$s     = CommentGuard_Client::settings();
		$lines = array();
		$ready = CommentGuard_Client::request( 'GET', '/readyz', '', null, (float) $s['timeout'] );
		if ( ! $ready['ok'] ) {
			return array(
				'ok'    => false,
				'lines' => array( 'Service: not ready (' . $ready['error'] . ')' ),
			);
		}
		$lines[] = sprintf( 'Service: ready, model %s, %.0f ms', (string) ( $ready['body']['model_version'] ?? '?' ), $ready['ms'] );
		$ok      = true;
		$site = self::check_site_key( $s );
		$ok   = $ok && $site['ok'];
		$lines[] = $site['line'];
		if ( '' === $s['moderator_key'] ) {
			$lines[] = 'Moderator key: not set, so spam / not-spam decisions are not sent';
		} else {
			$mod = CommentGuard_Client::request( 'GET', '/v1/review/summary', $s['moderator_key'], null, (float) $s['feedback_timeout'] );
			$ok  = $ok && $mod['ok'];
			$lines[] = $mod['ok'] ? 'Moderator key: accepted' : 'Moderator key: refused (' . $mod['error'] . ')';
		}
		return array(
			'ok'    => $ok,
			'lines' => $lines,
		);
	}

	/**
	 * Checks the site key, and that it is for this site, with the Akismet-protocol
	 * `POST /1.1/verify-key` (`valid` only for the key's own `blog`); it has no side effects.
	 *
	 * @param array $s Settings.
	 * @return array `ok` and a `line` to show.
	 */
	private static function check_site_key( array $s ) {
		if ( '' === $s['site_key'] ) {
			return array(
				'ok'   => false,
				'line' => 'Site key: not set, so comments are held',
			);
		}
		$response = wp_remote_post(
			rtrim( $s['url'], '/' ) . '/1.1/verify-key',
			array(
				'timeout'     => max( 0.1, (float) $s['timeout'] ),
				'redirection' => 0,
				'body'        => array(
					'key'  => $s['site_key'],
					'blog' => home_url(),
				),
			)
		);
		if ( is_wp_error( $response ) ) {
			return array(
				'ok'   => false,
				'line' => 'Site key: not checked (' . $response->get_error_message() . ')',
			);
		}
		if ( 'valid' === trim( wp_remote_retrieve_body( $response ) ) ) {
			return array(
				'ok'   => true,
				'line' => 'Site key: accepted for ' . home_url(),
			);
		}
		return array(
			'ok'   => false,
			'line' => 'Site key: refused, or made for another site than ' . home_url(),
		);
	}

	/**
	 * Adds the CommentGuard column to the comments list.
	 *
	 * @param array $columns Columns.
	 * @return array
	 */
	public static function add_column( $columns ) {
		$columns['commentguard'] = 'CommentGuard';
		return $columns;
	}

	/**
	 * Prints a comment's verdict, probability, reasons and label.
	 *
	 * @param string $column     Column id.
	 * @param int    $comment_id Comment id.
	 */
	public static function column( $column, $comment_id ) {
		if ( 'commentguard' !== $column ) {
			return;
		}
		$outcome = CommentGuard_Scorer::outcome( $comment_id );
		$verdict = (string) ( $outcome['verdict'] ?? '' );
		if ( '' === $verdict ) {
			echo '<span class="commentguard-none">—</span>';
			return;
		}
		echo '<div class="commentguard-verdict" data-verdict="' . esc_attr( $verdict ) . '">';
		if ( 'error' === $verdict ) {
			echo '<strong>held: service unavailable</strong><br><small>' . esc_html( (string) ( $outcome['error'] ?? '' ) ) . '</small>';
		} else {
			printf( '<strong>%s</strong> %.2f', esc_html( $verdict ), (float) ( $outcome['probability'] ?? 0 ) );
			$reasons = (array) ( $outcome['reasons'] ?? array() );
			if ( $reasons ) {
				echo '<ul style="margin:0">';
				foreach ( $reasons as $r ) {
					printf( '<li title="%s">%s</li>', esc_attr( $r['detail'] ?? '' ), esc_html( $r['id'] ?? '' ) );
				}
				echo '</ul>';
			}
		}
		$label = (string) get_comment_meta( $comment_id, 'commentguard_feedback', true );
		if ( '' !== $label ) {
			echo '<small>sent as ' . esc_html( $label ) . '</small>';
		}
		if ( '' !== (string) get_comment_meta( $comment_id, 'commentguard_feedback_pending', true ) ) {
			echo '<small>label not sent yet</small>';
		}
		echo '</div>';
	}
}
