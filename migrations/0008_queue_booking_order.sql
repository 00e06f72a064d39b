-- Callbacks of one window share their due time (the window's start), carry-over flag and
-- attempt count, so the queue's order left them in whatever order the index held them: an
-- outside test booked three for 16:30 and saw them called 3, 1, 2. Row ids are time-ordered
-- (UUID version 7 on the business clock, src/db/ids.ts), so the id as the last key serves them
-- in booking order (within a millisecond, in any order), and a callback handed back to the queue
-- keeps its place among them.
DROP INDEX callbacks_queue;
CREATE INDEX callbacks_queue ON callbacks (domain, carried_over DESC, due_at, attempts, id)
  WHERE status = 'queued';
