//! docker-compose.yml, checked without Docker (CI has none): its structure, and that every
//! `COMMENTGUARD_*` variable it names is a real setting.

use commentguard::settings::{env_var, CONFIG_ENV, DEFAULT_SHUTDOWN_TIMEOUT_SECS, KEYS};
use serde_norway::Value;

const COMPOSE: &str = include_str!("../../docker-compose.yml");

fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["services"]
        .get(name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Seconds of a compose duration such as `15s` or `1m`.
fn seconds(duration: &str) -> u64 {
    let (number, unit) = duration.split_at(duration.len() - 1);
    let n: u64 = number.parse().expect("a number");
    match unit {
        "s" => n,
        "m" => n * 60,
        _ => panic!("unexpected duration {duration}"),
    }
}

#[test]
fn compose_file_has_the_service_redis_health_checks_and_volumes() {
    let doc: Value = serde_norway::from_str(COMPOSE).expect("docker-compose.yml is YAML");
    let app = service(&doc, "commentguard");
    let redis = service(&doc, "redis");

    for (name, s) in [("commentguard", app), ("redis", redis)] {
        let test = strings(&s["healthcheck"]["test"]);
        assert!(!test.is_empty(), "{name} has no healthcheck");
        assert!(
            s["restart"].as_str().is_some(),
            "{name} has no restart policy"
        );
    }
    let health = strings(&app["healthcheck"]["test"]).join(" ");
    assert!(health.contains("/readyz"), "{health}");
    assert!(
        app["depends_on"]["redis"]["condition"].as_str() == Some("service_healthy"),
        "the service waits for a healthy Redis"
    );
    assert_eq!(
        app["build"].as_str(),
        Some("."),
        "built from the Dockerfile"
    );

    // Redis keeps an append-only file on a volume.
    let command = strings(&redis["command"]);
    let aof = command.iter().position(|a| a == "--appendonly");
    assert!(
        aof.is_some_and(|i| command.get(i + 1).map(String::as_str) == Some("yes")),
        "{command:?}"
    );

    // Named volumes for the data, the models and Redis, each declared at the top level.
    let declared = doc["volumes"].as_mapping().expect("top-level volumes");
    let mounts = |s: &Value| strings(&s["volumes"]);
    let target = |mounts: &[String], path: &str| -> String {
        let mount = mounts
            .iter()
            .find(|m| m.split(':').nth(1) == Some(path))
            .unwrap_or_else(|| panic!("nothing mounted at {path}: {mounts:?}"));
        mount.split(':').next().unwrap_or_default().to_owned()
    };
    let env = &app["environment"];
    let env_str = |name: &str| env[name].as_str().unwrap_or_default().to_owned();
    let app_mounts = mounts(app);
    for path in [env_str("COMMENTGUARD_DATA_DIR"), "/models".to_owned()] {
        let volume = target(&app_mounts, &path);
        assert!(
            declared.contains_key(volume.as_str()),
            "{volume} not declared"
        );
    }
    let volume = target(&mounts(redis), "/data");
    assert!(
        declared.contains_key(volume.as_str()),
        "{volume} not declared"
    );

    // Docker's SIGKILL comes after stop_grace_period: it must outlast our shutdown timeout.
    let timeout = env[env_var("shutdown_timeout_secs").as_str()]
        .as_str()
        .map_or(DEFAULT_SHUTDOWN_TIMEOUT_SECS, |v| {
            v.parse().expect("a number")
        });
    let grace = seconds(
        app["stop_grace_period"]
            .as_str()
            .expect("stop_grace_period"),
    );
    assert!(
        grace > timeout,
        "stop_grace_period {grace}s <= shutdown timeout {timeout}s"
    );
}

#[test]
fn every_commentguard_variable_in_the_compose_file_is_a_setting() {
    let known: Vec<String> = KEYS
        .iter()
        .map(|k| env_var(k))
        .chain([CONFIG_ENV.to_owned()])
        .collect();
    // Everywhere in the file, comments included: a commented-out example must work too.
    let mut named = Vec::new();
    let mut rest = COMPOSE;
    while let Some(at) = rest.find("COMMENTGUARD_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        named.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    assert!(named.len() >= 5, "{named:?}");
    for name in &named {
        assert!(
            known.contains(name),
            "{name} is not a setting (known: {known:?})"
        );
    }
    let doc: Value = serde_norway::from_str(COMPOSE).expect("YAML");
    let env = doc["services"]["commentguard"]["environment"]
        .as_mapping()
        .expect("environment is a mapping");
    for (name, value) in env {
        let name = name.as_str().expect("a string key");
        assert!(
            name.starts_with("COMMENTGUARD_") || name == "RUST_LOG",
            "unexpected variable {name}"
        );
        assert!(
            value.is_string(),
            "{name}: quote the value, compose requires strings"
        );
    }
}

#[test]
fn the_dockerfile_copies_every_directory_the_binary_embeds() {
    let dockerfile = include_str!("../../Dockerfile");
    // include_str!/include_bytes! paths under src/ name these directories; a Docker build
    // without one of them fails to compile.
    for dir in ["src", "models"] {
        assert!(
            dockerfile.contains(&format!("COPY {dir} ./{dir}")),
            "the Dockerfile does not copy {dir}/"
        );
    }
    let embedded = include_str!("../../src/console/mod.rs");
    assert!(
        embedded.contains("include_str!(\"assets/"),
        "the console's assets moved out of src/: copy their directory in the Dockerfile"
    );
}

#[test]
fn compose_runs_two_replicas_on_postgres_behind_the_proxy() {
    let doc: Value = serde_norway::from_str(COMPOSE).expect("docker-compose.yml is YAML");
    let proxy = service(&doc, "proxy");
    assert!(
        proxy["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("nginx:")),
        "the proxy is nginx's official image"
    );
    assert_eq!(
        strings(&proxy["ports"]),
        ["8080:8080"],
        "only the proxy is published"
    );
    let config = include_str!("../../deploy/nginx.conf");
    let postgres = service(&doc, "postgres");
    assert!(!strings(&postgres["healthcheck"]["test"]).is_empty());
    let user = postgres["environment"]["POSTGRES_USER"].as_str().unwrap();
    for name in ["commentguard", "commentguard-2"] {
        let replica = service(&doc, name);
        assert!(
            config.contains(&format!("server {name}:8080")),
            "nginx.conf sends traffic to {name}"
        );
        assert!(
            replica["ports"].is_null(),
            "{name} is reached through the proxy"
        );
        let url = replica["environment"]["COMMENTGUARD_DATABASE_URL"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no database URL"));
        assert!(
            url.starts_with(&format!("postgres://{user}:")) && url.contains("@postgres:5432/"),
            "{name}: {url}"
        );
        assert_eq!(
            replica["environment"]["COMMENTGUARD_REDIS_URL"].as_str(),
            Some("redis://redis:6379"),
            "{name} shares Redis"
        );
        assert!(
            strings(&replica["volumes"])
                .iter()
                .any(|v| v.starts_with("commentguard-data:")),
            "{name} mounts the shared data volume (keys, registry)"
        );
    }
    assert_eq!(
        service(&doc, "commentguard-2")["depends_on"]["commentguard"]["condition"].as_str(),
        Some("service_healthy"),
        "replica 2 starts once replica 1 has created the key"
    );
}
