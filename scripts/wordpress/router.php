<?php
/**
 * Router for PHP's built-in server in scripts/wordpress-e2e.sh: names the Debian
 * WordPress config (/etc/wordpress/config-NAME.php) for this run, then lets the server
 * serve the request as usual (returning false keeps $_SERVER as set here).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
$_SERVER['WORDPRESS_CONFIG'] = getenv( 'WORDPRESS_CONFIG' );
return false;
