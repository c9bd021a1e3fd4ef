-- The label log every replica shares, and the label in force per comment.
CREATE TABLE cg_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
-- The log's id: a model trained on this log's first N labels says so by this id.
INSERT INTO cg_meta (key, value) VALUES ('labels_log', md5(random()::text || clock_timestamp()::text));

CREATE TABLE cg_labels (
    seq bigserial PRIMARY KEY,
    label_id text NOT NULL UNIQUE,
    fingerprint text NOT NULL,
    site text NOT NULL,
    label text NOT NULL CHECK (label IN ('spam', 'ham')),
    previous text CHECK (previous IN ('spam', 'ham')),
    -- The whole record as JSON (the comment as labelled, who and when); `seq` is the column.
    record text NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now()
);

-- One row per labelled comment: the label in force. The fingerprint is the comment's
-- identity across sites, as pins are; the site it was last labelled on is kept beside it.
CREATE TABLE cg_label_heads (
    fingerprint text PRIMARY KEY,
    site text NOT NULL,
    seq bigint NOT NULL REFERENCES cg_labels (seq),
    label text NOT NULL,
    label_id text NOT NULL
);
CREATE UNIQUE INDEX cg_label_heads_site_fingerprint ON cg_label_heads (site, fingerprint);
CREATE INDEX cg_label_heads_seq ON cg_label_heads (seq);
