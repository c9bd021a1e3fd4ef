//! `GET /openapi.json` against the routes the application registers.

use reqwest::Method;

use crate::helpers::{spawn_app, status_and_json};

#[tokio::test]
async fn openapi_documents_every_registered_route_and_method() {
    let app = spawn_app().await;
    let (status, doc) = status_and_json(app.request(Method::GET, "/openapi.json").await).await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let routes = commentguard::routes::table();
    let mut missing = Vec::new();
    for route in routes.iter() {
        for method in route.methods() {
            let method = method.as_str().to_ascii_lowercase();
            if paths
                .get(route.path())
                .and_then(|p| p.get(&method))
                .is_none()
            {
                missing.push(format!("{method} {}", route.path()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
    // And nothing documented that the router does not serve.
    for path in paths.keys() {
        assert!(
            routes.get(path).is_some(),
            "{path} is documented but not in the route table"
        );
    }
    // The score route's schemas are real, not placeholders.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Comment",
        "ScoreResponse",
        "ErrorBody",
        "Verdict",
        "FeedbackBody",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    assert_eq!(
        schemas["Comment"]["required"],
        serde_json::json!(["content"])
    );
}

#[tokio::test]
async fn every_route_in_the_table_is_served() {
    // A route in ROUTES answers its first method with something other than the 404 of an
    // unknown path (handlers may refuse the empty request, that is fine).
    let app = spawn_app().await;
    for route in commentguard::routes::table().iter() {
        let method = route.methods()[0].as_str();
        let path = route.path().replace("{id}", "some-id");
        let response = app
            .request(Method::from_bytes(method.as_bytes()).unwrap(), &path)
            .await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(
            status != 405 && !(status == 404 && body.contains("\"not_found\"")),
            "{method} {path}: {status} {body}"
        );
    }
}
