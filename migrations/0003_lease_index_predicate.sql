-- The lease index had the same predicate as the one-desk index (status = 'assigned'). With
-- statistics that show few assigned callbacks (as after a bulk load), the planner took either for
-- "the callback on informateur X's desk", scanning every assigned callback's lease entry instead of
-- one entry of callbacks_one_per_desk. A predicate only the lease sweep implies (its
-- `lease_expires_at <= $now` proves `IS NOT NULL`) leaves the desk lookup one index to use.
DROP INDEX callbacks_leases;
CREATE INDEX callbacks_leases ON callbacks (lease_expires_at)
  WHERE status = 'assigned' AND lease_expires_at IS NOT NULL;
