<?php
/**
 * Settings, counters and the HTTP calls to the CommentGuard service.
 *
 * @package CommentGuard
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Talks to the service; every call returns an array, never throws.
 */
class CommentGuard_Client {

	const OPTION = 'commentguard_settings';
	const STATS  = 'commentguard_stats';

	/** Each field the service accepts is at most 2 KiB (content excepted). */
	const MAX_FIELD_BYTES = 2048;

	/**
	 * The settings with their defaults filled in.
	 *
	 * @return array
	 */
	public static function settings() {
		$defaults = array(
			'url'              => 'http://127.0.0.1:8080',
			'site_key'         => '',
			'moderator_key'    => '',
			'timeout'          => 2.0,
			'feedback_timeout' => 5.0,
			'discard'          => false,
			'trash_is_spam'    => false,
			'honeypot'         => true,
		);
		$saved    = get_option( self::OPTION, array() );
		return array_merge( $defaults, is_array( $saved ) ? $saved : array() );
	}

	/**
	 * Adds to the counters shown on the settings page; `$last` records the latest failure.
	 *
	 * @param string      $name  Counter name.
	 * @param string|null $last  Short reason of a failure, kept with its time.
	 */
	public static function count( $name, $last = null ) {
		$stats          = get_option( self::STATS, array() );
		$stats          = is_array( $stats ) ? $stats : array();
		$stats[ $name ] = ( isset( $stats[ $name ] ) ? (int) $stats[ $name ] : 0 ) + 1;
		if ( null !== $last ) {
			$stats[ $name . '_last' ] = array(
				'time'   => time(),
				'reason' => $last,
			);
		}
		update_option( self::STATS, $stats, false );
	}

	/**
	 * Scores one comment: `POST /v1/comments/score`.
	 *
	 * @param array $fields The score request (see docs/api.md).
	 * @return array `ok`, and either `body` (the decoded answer) or `error`; `ms` the time taken.
	 */
	public static function score( array $fields ) {
		$s = self::settings();
		return self::request( 'POST', '/v1/comments/score', $s['site_key'], self::clip( $fields ), (float) $s['timeout'] );
	}

	/**
	 * Sends a moderator's correction: `POST /v1/feedback`.
	 *
	 * @param array $body `label`, and `verdict_id` or `comment`, `moderator`, `note`.
	 * @return array As for score().
	 */
	public static function feedback( array $body ) {
		$s = self::settings();
		if ( isset( $body['comment'] ) ) {
			$body['comment'] = self::clip( $body['comment'] );
		}
		return self::request( 'POST', '/v1/feedback', $s['moderator_key'], $body, (float) $s['feedback_timeout'] );
	}

	/**
	 * One HTTP call; any transport error or non-2xx answer is a failure with a short reason.
	 *
	 * @param string     $method  HTTP method.
	 * @param string     $path    Path on the service.
	 * @param string     $key     API key, or '' for none.
	 * @param array|null $body    JSON body.
	 * @param float      $timeout Seconds.
	 * @return array
	 */
	public static function request( $method, $path, $key, $body, $timeout ) {
		$s       = self::settings();
		$headers = array( 'Accept' => 'application/json' );
		if ( '' !== $key ) {
			$headers['Authorization'] = 'Bearer ' . $key;
		}
		$args = array(
			'method'      => $method,
			'timeout'     => max( 0.1, $timeout ),
			'redirection' => 0,
			'headers'     => $headers,
			'user-agent'  => 'CommentGuard-WordPress/' . COMMENTGUARD_VERSION . '; ' . get_bloginfo( 'version' ),
		);
		if ( null !== $body ) {
			$args['headers']['Content-Type'] = 'application/json';
			$args['body']                    = wp_json_encode( $body );
		}
		$start    = microtime( true );
		$response = wp_remote_request( rtrim( $s['url'], '/' ) . $path, $args );
		$ms       = ( microtime( true ) - $start ) * 1000.0;
		if ( is_wp_error( $response ) ) {
			return array(
				'ok'    => false,
				'error' => 'transport: ' . $response->get_error_message(),
				'ms'    => $ms,
			);
		}
		$status  = (int) wp_remote_retrieve_response_code( $response );
		$decoded = json_decode( wp_remote_retrieve_body( $response ), true );
		if ( $status < 200 || $status > 299 ) {
			$code = is_array( $decoded ) && isset( $decoded['error'] ) ? (string) $decoded['error'] : 'no error code';
			return array(
				'ok'     => false,
				'status' => $status,
				'error'  => 'HTTP ' . $status . ' ' . $code,
				'ms'     => $ms,
			);
		}
		return array(
			'ok'     => true,
			'status' => $status,
			'body'   => is_array( $decoded ) ? $decoded : array(),
			'ms'     => $ms,
		);
	}

	/**
	 * Cuts every field but `content` to the service's 2 KiB, on a UTF-8 boundary.
	 *
	 * @param array $fields Request fields.
	 * @return array
	 */
	public static function clip( array $fields ) {
		foreach ( $fields as $name => $value ) {
			if ( 'content' === $name || ! is_string( $value ) ) {
				continue;
			}
			if ( strlen( $value ) > self::MAX_FIELD_BYTES ) {
				$fields[ $name ] = function_exists( 'mb_strcut' )
					? mb_strcut( $value, 0, self::MAX_FIELD_BYTES, 'UTF-8' )
					: substr( $value, 0, self::MAX_FIELD_BYTES - 4 );
			}
			if ( '' === $fields[ $name ] ) {
				unset( $fields[ $name ] );
			}
		}
		return $fields;
	}

	/**
	 * The score request for a stored or about-to-be-stored comment.
	 *
	 * @param array $c Comment data with WordPress's `comment_*` keys.
	 * @return array
	 */
	public static function fields_from_comment( array $c ) {
		$post_id = isset( $c['comment_post_ID'] ) ? (int) $c['comment_post_ID'] : 0;
		$fields  = array(
			'content'      => (string) ( $c['comment_content'] ?? '' ),
			'author'       => (string) ( $c['comment_author'] ?? '' ),
			'author_email' => (string) ( $c['comment_author_email'] ?? '' ),
			'author_url'   => (string) ( $c['comment_author_url'] ?? '' ),
			'user_ip'      => (string) ( $c['comment_author_IP'] ?? '' ),
			'user_agent'   => (string) ( $c['comment_agent'] ?? '' ),
			'permalink'    => $post_id ? (string) get_permalink( $post_id ) : '',
			'comment_type' => empty( $c['comment_type'] ) ? 'comment' : (string) $c['comment_type'],
			'site'         => home_url(),
			'lang'         => get_locale(),
		);
		if ( ! empty( $c['comment_ID'] ) ) {
			$fields['id'] = (string) $c['comment_ID'];
		}
		return $fields;
	}
}
