-- Which sender run handed a message to the SMTP server (recorded in the same UPDATE that marks
-- it sent), so a message seen twice by a receiver can be traced to the runs that sent it.
ALTER TABLE outbox ADD COLUMN sent_by TEXT;
