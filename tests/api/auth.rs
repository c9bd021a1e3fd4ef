//! API keys and roles: every endpoint × no key, a bad key, a revoked key and each role.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, create_keys, spawn_app, spawn_app_with, spawn_keyed_app, status_and_json,
    TEST_SITE,
};
use commentguard::keys::{KeyFile, Role};
use commentguard::settings::Settings;
use commentguard::startup::Application;

/// Who may call what: (method, path, body, least role; `None` = open to all).
fn endpoints() -> Vec<(Method, &'static str, Option<Value>, Option<Role>)> {
    vec![
        (
            Method::POST,
            "/v1/comments/score",
            Some(json!({"content": "Lovely photos, thanks for sharing."})),
            Some(Role::Site),
        ),
        (Method::GET, "/v1/comments/some-id", None, Some(Role::Site)),
        (
            Method::POST,
            "/v1/feedback",
            Some(json!({"label": "ham", "comment": {"content": "A fine comment."}})),
            Some(Role::Moderator),
        ),
        (Method::GET, "/v1/labels", None, Some(Role::Moderator)),
        (Method::GET, "/v1/review/queue", None, Some(Role::Moderator)),
        (
            Method::GET,
            "/v1/review/summary",
            None,
            Some(Role::Moderator),
        ),
        (Method::GET, "/v1/admin/keys", None, Some(Role::Admin)),
        (Method::GET, "/v1/admin/models", None, Some(Role::Admin)),
        (Method::GET, "/v1/admin/jobs/job-0", None, Some(Role::Admin)),
        (
            Method::POST,
            "/v1/admin/models/nb-000000000000/activate",
            None,
            Some(Role::Admin),
        ),
        (Method::GET, "/healthz", None, None),
        (Method::GET, "/readyz", None, None),
        // The API's shape is public (docs/api.md); it holds no data.
        (Method::GET, "/openapi.json", None, None),
        // The console's page and assets hold no secrets: the key is typed into the page.
        (Method::GET, "/console", None, None),
        (Method::GET, "/console/app.js", None, None),
        (Method::GET, "/console/app.css", None, None),
    ]
}

#[tokio::test]
async fn every_endpoint_checks_keys_and_roles() {
    let (app, keys) = spawn_keyed_app().await;
    // (caller, key, role it holds)
    let callers: [(&str, Option<&str>, Option<Role>); 6] = [
        ("no key", None, None),
        ("bad key", Some("zzzzzzzzzzzz"), None),
        ("revoked key", Some(keys.revoked.as_str()), None),
        ("site key", Some(keys.site.as_str()), Some(Role::Site)),
        (
            "moderator key",
            Some(keys.moderator.as_str()),
            Some(Role::Moderator),
        ),
        ("admin key", Some(keys.admin.as_str()), Some(Role::Admin)),
    ];
    for (method, path, body, need) in endpoints() {
        for (caller, key, role) in callers {
            let case = format!("{method} {path} with {caller}");
            let response = app.send(method.clone(), path, key, body.as_ref()).await;
            let status = response.status().as_u16();
            match (need, role) {
                (None, _) => assert_eq!(status, 200, "{case}: open endpoint"),
                (Some(_), None) => {
                    let code = if key.is_none() {
                        "missing_key"
                    } else {
                        "invalid_key"
                    };
                    assert_eq!(
                        response
                            .headers()
                            .get("www-authenticate")
                            .map(|v| v.as_bytes()),
                        Some(&b"Bearer"[..]),
                        "{case}"
                    );
                    assert_error(response, 401, code, &case).await;
                }
                (Some(need), Some(role)) if role < need => {
                    assert_error(response, 403, "forbidden", &case).await;
                }
                (Some(_), Some(_)) => {
                    // Allowed: whatever the endpoint answers, it is not about the key.
                    assert!(
                        status != 401 && status != 403 && status < 500,
                        "{case}: allowed but got {status}: {}",
                        response.text().await.unwrap_or_default()
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_key_may_come_as_x_api_key() {
    let (app, keys) = spawn_keyed_app().await;
    let response = app
        .client
        .get(format!("{}/v1/labels", app.address))
        .header("X-Api-Key", &keys.moderator)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn site_keys_score_only_for_their_own_site() {
    let (app, keys) = spawn_keyed_app().await;
    let score = |site: Option<&str>| {
        let mut body = json!({"content": "Thanks for the recipe, it worked."});
        if let Some(site) = site {
            body["site"] = json!(site);
        }
        let app = &app;
        let key = keys.site.clone();
        async move {
            app.send(Method::POST, "/v1/comments/score", Some(&key), Some(&body))
                .await
        }
    };
    assert_eq!(score(None).await.status().as_u16(), 200);
    assert_eq!(
        score(Some("https://BLOG.example.com/"))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_error(
        score(Some("https://elsewhere.example")).await,
        403,
        "forbidden",
        "another site",
    )
    .await;
    // The verdict of a site key's comment is readable by that key; an admin sees all.
    let (_, body) = status_and_json(score(None).await).await;
    let id = body["verdict_id"].as_str().unwrap();
    let path = format!("/v1/comments/{id}");
    let response = app.send(Method::GET, &path, Some(&keys.site), None).await;
    assert_eq!(response.status().as_u16(), 200, "{TEST_SITE}");
}

#[tokio::test]
async fn open_local_mode_refuses_a_public_address_until_a_key_exists() {
    let keys_dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        bind: "0.0.0.0:0".parse().unwrap(),
        data_dir: keys_dir.path().to_path_buf(),
        workers: 1,
        ..Settings::default()
    };
    let error = Application::build(settings.clone())
        .err()
        .expect("open mode on 0.0.0.0 must be refused");
    assert!(format!("{error:#}").contains("keys create"), "{error:#}");

    KeyFile::in_dir(keys_dir.path())
        .create(Role::Admin, None)
        .unwrap();
    Application::build(settings).expect("with a key, any address is fine");
}

#[tokio::test]
async fn open_local_mode_serves_without_keys_and_a_new_key_closes_it() {
    let app = spawn_app().await;
    let labels = |key: Option<String>| {
        let app = &app;
        async move {
            app.send(Method::GET, "/v1/labels", key.as_deref(), None)
                .await
        }
    };
    assert_eq!(labels(None).await.status().as_u16(), 200, "open mode");
    let (_, key) = KeyFile::in_dir(&app.settings.data_dir)
        .create(Role::Moderator, None)
        .unwrap();
    // The key file is re-read within a second of changing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if labels(None).await.status().as_u16() == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new key never took effect"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(labels(Some(key)).await.status().as_u16(), 200);
}

#[tokio::test]
async fn keys_listing_never_shows_keys_or_hashes() {
    let keys = create_keys();
    let dir = keys.dir.path().to_path_buf();
    let app = spawn_app_with(|s| s.data_dir = dir).await;
    let response = app
        .send(Method::GET, "/v1/admin/keys", Some(&keys.admin), None)
        .await;
    let text = response.text().await.unwrap();
    let listed: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(listed.len(), 4);
    for secret in [&keys.admin, &keys.moderator, &keys.site] {
        assert!(!text.contains(secret.as_str()));
        assert!(!text.contains(&commentguard::keys::hash_key(secret)));
    }
}
