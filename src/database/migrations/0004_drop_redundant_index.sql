-- The fingerprint alone is the primary key of cg_label_heads (it is unique across sites),
-- so the (site, fingerprint) index only cost every label write one more index entry.
DROP INDEX IF EXISTS cg_label_heads_site_fingerprint;
