-- Announce every change that can alter what GET /v1/slots lists on channel rappel_slots, so that
-- API processes drop their cached listings: the payload is a domain, or '*' for all of them.
-- NOTIFY is transactional (delivered at commit, never for a rollback) and PostgreSQL sends a
-- given (channel, payload) once per transaction, however many rows changed.

CREATE FUNCTION rappel_slots_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('rappel_slots', '*');
  RETURN NULL;
END $$;

-- Booked counts: bookings, cancels, places given back after the first call, moves.
CREATE FUNCTION rappel_slots_notify_window_load() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    PERFORM pg_notify('rappel_slots', OLD.domain);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_notify('rappel_slots', NEW.domain);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER window_load_slots_insert_delete AFTER INSERT OR DELETE ON window_load
  FOR EACH ROW EXECUTE FUNCTION rappel_slots_notify_window_load();
CREATE TRIGGER window_load_slots_update AFTER UPDATE ON window_load
  FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION rappel_slots_notify_window_load();
CREATE TRIGGER window_load_slots_truncate AFTER TRUNCATE ON window_load
  FOR EACH STATEMENT EXECUTE FUNCTION rappel_slots_notify_all();

-- Closures change the windows of every domain.
CREATE TRIGGER closures_slots AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON closures
  FOR EACH STATEMENT EXECUTE FUNCTION rappel_slots_notify_all();

-- Capacity counts the active informateurs of each domain. Only a change of `active` or
-- `domains` matters: status and idle-time updates (every call, every pause) notify nothing.
CREATE FUNCTION rappel_slots_notify_agents() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d text;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.active THEN
    FOREACH d IN ARRAY OLD.domains LOOP
      PERFORM pg_notify('rappel_slots', d);
    END LOOP;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.active THEN
    FOREACH d IN ARRAY NEW.domains LOOP
      PERFORM pg_notify('rappel_slots', d);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER agents_slots_insert_delete AFTER INSERT OR DELETE ON agents
  FOR EACH ROW EXECUTE FUNCTION rappel_slots_notify_agents();
CREATE TRIGGER agents_slots_update AFTER UPDATE OF active, domains ON agents
  FOR EACH ROW WHEN (OLD.active IS DISTINCT FROM NEW.active OR OLD.domains IS DISTINCT FROM NEW.domains)
  EXECUTE FUNCTION rappel_slots_notify_agents();
CREATE TRIGGER agents_slots_truncate AFTER TRUNCATE ON agents
  FOR EACH STATEMENT EXECUTE FUNCTION rappel_slots_notify_all();
