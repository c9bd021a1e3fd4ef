//! HTTP handlers, one file per resource; [`error`] is the one place errors become HTTP,
//! [`body`] the one reader of JSON bodies, [`auth`] the caller the middleware found.
//!
//! Each resource module registers its handlers in a [`RouteTable`] (its `routes` function).
//! A handler's path and methods are written once, in its `#[utoipa::path]` attribute: the
//! table reads them from there for the router, for the `Allow` header of a 405, and for the
//! OpenAPI document, so the three cannot disagree.

pub mod admin;
pub mod akismet;
pub mod auth;
pub mod body;
pub mod comments;
pub mod console;
pub mod error;
pub mod feedback;
pub mod health;
pub mod import;
pub mod keys;
pub mod labels;
pub mod metrics;
pub mod openapi;
pub mod review;
pub mod score;

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Resource, Responder};
use utoipa::openapi::path::{HttpMethod, PathsBuilder};
use utoipa::openapi::{RefOr, Schema};

pub use error::ApiError;

/// Schemas a path's operation refers to, as utoipa collects them.
type SchemaList = Vec<(String, RefOr<Schema>)>;

/// One route: where it is served, with which methods, and how to document it.
pub struct Route {
    path: String,
    methods: Vec<Method>,
    allow: String,
    rate_limited: bool,
    resource: Arc<dyn Fn() -> Resource + Send + Sync>,
    document: fn(PathsBuilder) -> PathsBuilder,
    schemas: fn(&mut SchemaList),
}

impl Route {
    /// The path template, e.g. `/v1/comments/{id}`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The methods it serves.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// Whether the rate limiter applies (not to the probes and the metrics scrape).
    pub fn rate_limited(&self) -> bool {
        self.rate_limited
    }
}

/// Every route of the API; built by [`table`].
#[derive(Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Adds `handler` at the path and methods of its `#[utoipa::path]` attribute (`P`, the
    /// `__path_<handler>` type the attribute generates).
    pub fn add<P, F, Args>(&mut self, handler: F) -> &mut Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.push::<P, F, Args>(handler, true)
    }

    /// [`RouteTable::add`] for a route the rate limiter must never refuse: a probe or the
    /// metrics scrape, which must keep answering precisely when a client is hammering us.
    pub fn add_unlimited<P, F, Args>(&mut self, handler: F) -> &mut Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.push::<P, F, Args>(handler, false)
    }

    fn push<P, F, Args>(&mut self, handler: F, rate_limited: bool) -> &mut Self
    where
        P: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = P::path();
        let methods: Vec<Method> = P::methods().iter().map(actix_method).collect();
        let allow = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let resource = {
            let (path, methods, allow) = (path.clone(), methods.clone(), allow.clone());
            Arc::new(move || {
                let mut resource = web::resource(path.as_str());
                for method in &methods {
                    resource = resource.route(web::method(method.clone()).to(handler.clone()));
                }
                resource.default_service(error::method_not_allowed(allow.clone()))
            })
        };
        self.routes.push(Route {
            path,
            methods,
            allow,
            rate_limited,
            resource,
            document: PathsBuilder::path_from::<P>,
            schemas: <P as utoipa::__dev::SchemaReferences>::schemas,
        });
        self
    }

    /// Every route, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// The route with this path template.
    pub fn get(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.path == path)
    }

    /// Registers every route with the router (once per worker).
    pub fn configure(&self, config: &mut web::ServiceConfig) {
        for route in &self.routes {
            config.service((route.resource)());
        }
    }

    /// The OpenAPI document: [`openapi::ApiDoc`]'s description plus every route's operation
    /// and the schemas they use.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        use utoipa::OpenApi;
        let mut doc = openapi::ApiDoc::openapi();
        let mut paths = PathsBuilder::new();
        let mut schemas = SchemaList::new();
        for route in &self.routes {
            paths = (route.document)(paths);
            (route.schemas)(&mut schemas);
        }
        doc.paths = paths.build();
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.extend(schemas);
        doc
    }

    /// The `Allow` value of a route, for tests and 405s.
    pub fn allow(&self, path: &str) -> Option<&str> {
        self.get(path).map(|r| r.allow.as_str())
    }
}

/// The route table of the whole API: each resource module adds its own routes.
pub fn table() -> RouteTable {
    let mut table = RouteTable::default();
    score::routes(&mut table);
    comments::routes(&mut table);
    feedback::routes(&mut table);
    labels::routes(&mut table);
    review::routes(&mut table);
    keys::routes(&mut table);
    admin::routes(&mut table);
    import::routes(&mut table);
    akismet::routes(&mut table);
    health::routes(&mut table);
    metrics::routes(&mut table);
    openapi::routes(&mut table);
    table
}

fn actix_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_registered_once_with_its_methods() {
        let table = table();
        let mut seen = std::collections::HashSet::new();
        for route in table.iter() {
            assert!(seen.insert(route.path()), "{} twice", route.path());
            assert!(
                !route.methods().is_empty(),
                "{} has no method",
                route.path()
            );
        }
        // (path, Allow, rate limited, why)
        let cases = [
            ("/v1/comments/score", "POST", true, "the score API"),
            (
                "/1.2/usage-limit",
                "GET, POST",
                true,
                "two methods, one handler",
            ),
            ("/healthz", "GET", false, "a probe is never refused"),
            ("/metrics", "GET", false, "the scrape is never refused"),
        ];
        for (path, allow, limited, why) in cases {
            let route = table.get(path).expect(path);
            assert_eq!(table.allow(path), Some(allow), "{why}");
            assert_eq!(route.rate_limited(), limited, "{why}");
        }
    }

    #[test]
    fn the_document_has_every_route_and_its_schemas() {
        let table = table();
        let doc = serde_json::to_value(table.openapi()).unwrap();
        for route in table.iter() {
            for method in route.methods() {
                let method = method.as_str().to_ascii_lowercase();
                assert!(
                    doc["paths"][route.path()].get(&method).is_some(),
                    "{method} {} undocumented",
                    route.path()
                );
            }
        }
        assert!(doc["components"]["schemas"].get("ScoreResponse").is_some());
    }
}
