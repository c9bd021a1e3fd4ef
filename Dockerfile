# syntax=docker/dockerfile:1
# BuildKit syntax for the cache mounts below (BuildKit is the default builder in Docker 23+).

# ---- build ---------------------------------------------------------------
# Full (not slim) image: it has the C toolchain any -sys crate may need.
FROM rust:1-bookworm AS builder
WORKDIR /src

# Cargo.toml declares the [[test]] (tests/api) and [[bench]] (benches/score.rs) targets,
# and Cargo checks that every declared target exists even for `--bin`, so both are copied.
# models/ is embedded with include_bytes!, the moderator console (src/console/assets/) with include_str!;
# fixtures/cases.toml is include_str!'d by the unit tests, which are part of the crate's source.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY models ./models
COPY fixtures ./fixtures
COPY benches ./benches
COPY tests ./tests

# Cache mounts keep the registry and target/ between builds (no dummy-main trick needed);
# target/ lives only in the cache, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin commentguard \
 && install -m 0755 target/release/commentguard /usr/local/bin/commentguard

# ---- runtime -------------------------------------------------------------
# Same Debian release as the builder, so the glibc the binary links against is present.
FROM debian:bookworm-slim

# ca-certificates only, though the binary opens no TLS connection: its redis crate is built
# without TLS, so a rediss:// cache URL is refused at startup. No curl: the
# health check (in docker-compose.yml) uses bash's /dev/tcp, and bash is already in this
# image, so adding an HTTP client would only add size and CVEs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# Fixed non-root UID/GID so volume ownership is predictable across rebuilds and hosts.
RUN groupadd --system --gid 10001 commentguard \
 && useradd --system --uid 10001 --gid commentguard \
      --home-dir /var/lib/commentguard --shell /usr/sbin/nologin commentguard \
 && install -d -o commentguard -g commentguard -m 0750 /var/lib/commentguard

COPY --from=builder /usr/local/bin/commentguard /usr/local/bin/commentguard

# The default bind (127.0.0.1) is unreachable from outside a container.
# COMMENTGUARD_MODELS_DIR stays unset: the model embedded in the binary is used.
ENV COMMENTGUARD_BIND=0.0.0.0:8080 \
    COMMENTGUARD_DATA_DIR=/var/lib/commentguard \
    COMMENTGUARD_LOG_FORMAT=json

USER commentguard
WORKDIR /var/lib/commentguard
EXPOSE 8080

# actix-web handles SIGTERM itself (graceful shutdown), so running as PID 1 needs no init.
ENTRYPOINT ["commentguard"]
CMD ["serve"]
