-- A booking in one round trip. Intake reads what its decision needs (stored Idempotency-Key,
-- the day's closures, the domain's staffing) without locks, decides in the application (the
-- calendar rules live there), then calls rappel_book once, outside any explicit transaction:
-- the call is its own transaction. rappel_book takes the locks, then checks with fresh reads
-- (each statement of a VOLATILE plpgsql function sees what committed before it began, so the
-- reads after the locks see every closure committed before the lock was granted) that the
-- decision still holds, and writes everything or nothing.
--
-- Outcomes: 'created' (outbox_id set), 'stored' (the key's response exists now: stored set),
-- 'key_in_use' (another request holds the key), 'stale' (closures or staffing changed since
-- the read: decide again), 'duplicate', 'full'. A concurrent insert of the same active phone
-- and domain, or a reference already taken, raise unique_violation (23505) as before.

-- The closures of a Paris date, as intake reads them.
CREATE FUNCTION rappel_closures_of(p_date date) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT coalesce(json_agg(c ORDER BY c.start_time NULLS FIRST, c.id), '[]'::json)
  FROM (SELECT id, date, start_time, end_time, reason, created_at FROM closures WHERE date = p_date) c
$$;

-- Their fingerprint: md5 over text that does not depend on the session (created_at as epoch,
-- not as timestamptz text, which follows the session's TimeZone).
CREATE FUNCTION rappel_closures_md5(p_date date) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT md5(coalesce(string_agg(concat_ws('|', id, date, start_time, end_time, reason,
                                           extract(epoch FROM created_at)),
                                 ',' ORDER BY start_time NULLS FIRST, id), ''))
  FROM closures WHERE date = p_date
$$;

-- Active informateurs of a domain: the staffing window capacity comes from.
CREATE FUNCTION rappel_active_in_domain(p_domain text) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT count(*)::int FROM agents WHERE active AND domains @> ARRAY[p_domain]
$$;

CREATE FUNCTION rappel_book(
  p_key_lock bigint,          -- advisory lock of the Idempotency-Key, NULL without a key
  p_calendar_lock bigint,     -- calendar lock, taken shared (slot bookings), NULL for none
  p_now timestamptz,
  p_date date,                -- Paris date whose closures the decision used
  p_closures_md5 text,        -- their fingerprint
  p_active integer,           -- active informateurs the capacity was computed from (slot)
  p_capacity integer,         -- places of the window; NULL: takes no place (asap)
  p_id uuid, p_reference text, p_domain text, p_mode text, p_status text,
  p_phone text, p_phone_region text, p_fiche_id text, p_subject text,
  p_window_start timestamptz, p_window_end timestamptz, p_cancel_token_hash bytea,
  p_event_type text, p_event_actor text, p_event_data jsonb,
  p_job_name text, p_job_id text, p_job_payload jsonb, p_run_at timestamptz,
  p_key text, p_key_hash bytea, p_key_status integer, p_key_body jsonb, p_key_expires_at timestamptz
) RETURNS TABLE (outcome text, outbox_id bigint, stored json)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_stored json;
  v_booked integer;
  v_outbox bigint;
BEGIN
  -- The re-checks below rely on each statement seeing what committed before it began.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'rappel_book needs READ COMMITTED, not %', current_setting('transaction_isolation');
  END IF;
  IF p_key_lock IS NOT NULL AND NOT pg_try_advisory_xact_lock(p_key_lock) THEN
    RETURN QUERY SELECT 'key_in_use'::text, NULL::bigint, NULL::json;
    RETURN;
  END IF;
  -- A closure change takes this lock exclusively: a booking either committed before it (and is
  -- moved or reported by it) or sees the closure below.
  IF p_calendar_lock IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock_shared(p_calendar_lock);
  END IF;

  IF p_key IS NOT NULL THEN
    SELECT json_build_object('hash', encode(request_hash, 'hex'), 'status', response_status, 'body', response_body)
      INTO v_stored FROM idempotency_keys WHERE key = p_key AND expires_at > p_now;
    IF v_stored IS NOT NULL THEN
      RETURN QUERY SELECT 'stored'::text, NULL::bigint, v_stored;
      RETURN;
    END IF;
  END IF;

  IF rappel_closures_md5(p_date) IS DISTINCT FROM p_closures_md5
     OR (p_capacity IS NOT NULL AND rappel_active_in_domain(p_domain) <> p_active) THEN
    RETURN QUERY SELECT 'stale'::text, NULL::bigint, NULL::json;
    RETURN;
  END IF;

  -- The contract's order: duplicate before full.
  IF EXISTS (SELECT 1 FROM callbacks WHERE phone = p_phone AND domain = p_domain
             AND status IN ('scheduled','queued','assigned')) THEN
    RETURN QUERY SELECT 'duplicate'::text, NULL::bigint, NULL::json;
    RETURN;
  END IF;

  IF p_capacity IS NOT NULL THEN
    -- A window full as of now is refused without waiting on its row lock; otherwise the guarded
    -- upsert re-checks on the latest row version, so concurrent bookings never overbook.
    SELECT booked INTO v_booked FROM window_load WHERE domain = p_domain AND window_start = p_window_start;
    IF coalesce(v_booked, 0) >= p_capacity THEN
      RETURN QUERY SELECT 'full'::text, NULL::bigint, NULL::json;
      RETURN;
    END IF;
    -- Announced by the application after the commit (see rappel_slots_notify_window_load below).
    PERFORM set_config('rappel.slots_notify', 'deferred', true);
    INSERT INTO window_load AS w (domain, window_start, booked) VALUES (p_domain, p_window_start, 1)
      ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + 1 WHERE w.booked < p_capacity
      RETURNING booked INTO v_booked;
    IF NOT FOUND THEN
      -- The last place may have gone to the same phone, committed since the check above: the
      -- contract answers a duplicate before a full window.
      IF EXISTS (SELECT 1 FROM callbacks WHERE phone = p_phone AND domain = p_domain
                 AND status IN ('scheduled','queued','assigned')) THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::bigint, NULL::json;
        RETURN;
      END IF;
      RETURN QUERY SELECT 'full'::text, NULL::bigint, NULL::json;
      RETURN;
    END IF;
  END IF;

  INSERT INTO callbacks (id, reference, domain, mode, status, phone, phone_region, fiche_id, subject,
    window_start, window_end, due_at, queued_at, cancel_token_hash, created_at, updated_at)
  VALUES (p_id, p_reference, p_domain, p_mode, p_status, p_phone, p_phone_region, p_fiche_id, p_subject,
    p_window_start, p_window_end, p_window_start, CASE WHEN p_status = 'queued' THEN p_now END,
    p_cancel_token_hash, p_now, p_now);
  INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
  VALUES (p_id, p_event_type, NULL, p_status, p_event_actor, p_now, p_event_data);
  INSERT INTO outbox (job_name, job_id, payload, run_at, created_at)
  VALUES (p_job_name, p_job_id, p_job_payload, p_run_at, p_now)
  RETURNING id INTO v_outbox;
  IF p_key IS NOT NULL THEN
    INSERT INTO idempotency_keys (key, request_hash, response_status, response_body, created_at, expires_at)
    VALUES (p_key, p_key_hash, p_key_status, p_key_body, p_now, p_key_expires_at)
    ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, response_status = EXCLUDED.response_status,
      response_body = EXCLUDED.response_body, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at;
  END IF;
  RETURN QUERY SELECT 'created'::text, v_outbox, NULL::json;
END $$;

-- NOTIFY serialises commits: a transaction that notifies holds a database-wide lock from just
-- before its commit until the commit is flushed. With one NOTIFY per booking, bookings queued
-- behind that lock (seen: 69 % of the booking connections' wait time). A transaction that sets
-- rappel.slots_notify to 'deferred' (rappel_book does) leaves the announcement of its
-- window_load change to the application, which sends it after the commit, coalesced over
-- bookings (src/services/slot-announcer.ts). Other transactions announce as before.
CREATE OR REPLACE FUNCTION rappel_slots_notify_window_load() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('rappel.slots_notify', true) = 'deferred' THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    PERFORM pg_notify('rappel_slots', OLD.domain);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_notify('rappel_slots', NEW.domain);
  END IF;
  RETURN NULL;
END $$;
