<?php
// Installs WordPress, adds posts and comments, prints export_wp()'s WXR. See wxr.sh.
$_SERVER['HTTP_HOST'] = 'blog.example.com';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
define('WP_INSTALLING', true);
require $argv[1] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/export.php';
ob_start();
wp_install('An example blog', 'admin', 'admin@example.org', true, '', 'not-a-real-password');
update_option('siteurl', 'https://blog.example.com');
update_option('home', 'https://blog.example.com');
// The sample comment and post of a fresh install are not the datasets': remove them.
foreach (get_comments(array('status' => 'all')) as $c) { wp_delete_comment($c->comment_ID, true); }
wp_delete_post(1, true);
$posts = array();
for ($p = 1; $p <= 3; $p++) {
    $posts[] = wp_insert_post(array(
        'post_title' => "Post $p", 'post_content' => "Post $p.", 'post_status' => 'publish',
        'post_date' => '2024-03-01 00:00:00', 'post_author' => 1,
    ));
}
foreach (file(getenv('COMMENTS')) as $line) {
    $r = json_decode($line, true);
    wp_insert_comment(wp_slash(array(
        'comment_post_ID' => $posts[$r['id'] % 3], 'comment_author' => $r['author'],
        'comment_author_email' => $r['email'], 'comment_author_url' => $r['url'],
        'comment_author_IP' => $r['ip'], 'comment_date' => $r['date'],
        'comment_date_gmt' => $r['date'], 'comment_content' => $r['content'],
        'comment_approved' => $r['approved'], 'comment_agent' => $r['agent'],
        'comment_type' => $r['type'],
    )));
}
ob_end_clean();
export_wp(array('content' => 'all'));
