-- A fingerprint of the last record each source reported for a paper. Re-importing a file
-- (or re-harvesting a page) compares fingerprints first and skips identical records without
-- reading or merging the stored paper: re-ingestion is cheap and changes nothing.
ALTER TABLE paper_sources ADD COLUMN record_hash TEXT;
