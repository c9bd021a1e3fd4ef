-- API keys (hashes only), the model registry and jobs, shared by every replica.
CREATE TABLE cg_keys (
    id text PRIMARY KEY,
    sha256 text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('site', 'moderator', 'admin')),
    site text,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
-- Bumped in the transaction of every key change: replicas poll this one row, and re-read
-- the keys only when it moved. A row lock orders the bumps as the commits.
INSERT INTO cg_meta (key, value) VALUES ('keys_generation', '0');

-- Every registered model version: its registry entry (JSON), manifest and artifact.
CREATE TABLE cg_models (
    version text PRIMARY KEY,
    created_at text NOT NULL,
    entry text NOT NULL,
    manifest bytea NOT NULL,
    artifact bytea NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);

-- The version in service: one row, absent until a version is first activated.
CREATE TABLE cg_model_active (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version text NOT NULL REFERENCES cg_models (version),
    activated_at timestamptz NOT NULL DEFAULT now()
);

-- Retraining and import jobs as `GET /v1/admin/jobs/{id}` shows them, written by the
-- replica that runs each.
CREATE TABLE cg_jobs (
    job_id text PRIMARY KEY,
    record text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
