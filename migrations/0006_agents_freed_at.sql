-- When an informateur's outcome last freed their desk, on the database's own clock
-- (statement_timestamp(), not business time): push dispatch leaves a freed informateur a short
-- grace to ask for the next callback themselves (src/repositories/push.ts PUSH_GRACE_MS).
-- Pushing at that instant raced their own pull: both wrote, and the pull only read back the desk.
ALTER TABLE agents ADD COLUMN freed_at timestamptz;
