-- Who is sending an outbox message right now (migrations/0041_outbox_claim.sql).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
