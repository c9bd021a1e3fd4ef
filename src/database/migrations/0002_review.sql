-- The review history: verdicts that need a human, kept for the retention period.
CREATE TABLE cg_review (
    verdict_id text PRIMARY KEY,
    scored_at timestamptz NOT NULL,
    -- The whole entry as JSON (the comment as submitted: personal data).
    item text NOT NULL
);
CREATE INDEX cg_review_scored_at ON cg_review (scored_at);
