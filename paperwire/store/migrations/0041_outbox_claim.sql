-- Who is sending an outbox message right now: "host:pid:process-start:run". A run takes a
-- message with a compare-and-swap on this column, so two overlapping runs (a slow cron job and
-- the next one) never both send it; a later run may take over a 'sending' message when that
-- process is gone (killed midway) or its lease (next_attempt_at) has run out.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
