-- A fingerprint of the last record each source reported for a paper (see migrations/0010).
ALTER TABLE paper_sources ADD COLUMN record_hash TEXT;
