-- Rappel initial schema. Business times are always written by the application clock:
-- no column takes its value from now().

CREATE TABLE agents (
  id               uuid PRIMARY KEY,
  display_name     text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  domains          text[] NOT NULL CHECK (cardinality(domains) >= 1
                     AND domains <@ ARRAY['travail','interieur','justice','logement']),
  active           boolean NOT NULL DEFAULT true,
  status           text NOT NULL CHECK (status IN ('available','paused','offline')),
  available_since  timestamptz,
  token_hash       bytea NOT NULL UNIQUE,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL
);
CREATE INDEX agents_domains ON agents USING gin (domains) WHERE active;

CREATE TABLE closures (
  id          uuid PRIMARY KEY,
  date        date NOT NULL,
  start_time  text CHECK (start_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  end_time    text CHECK (end_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL,
  CHECK ((start_time IS NULL) = (end_time IS NULL)),
  CHECK (start_time IS NULL OR start_time < end_time)
);
CREATE INDEX closures_date ON closures (date);

-- How many callbacks hold each (domain, window). Booking increments it with a guarded
-- upsert (booked < capacity), so a window can never be overbooked whatever the concurrency.
CREATE TABLE window_load (
  domain        text NOT NULL,
  window_start  timestamptz NOT NULL,
  booked        integer NOT NULL CHECK (booked >= 0),
  PRIMARY KEY (domain, window_start)
);

CREATE TABLE callbacks (
  id                 uuid PRIMARY KEY,
  reference          text NOT NULL UNIQUE,
  domain             text NOT NULL CHECK (domain IN ('travail','interieur','justice','logement')),
  mode               text NOT NULL CHECK (mode IN ('slot','asap')),
  status             text NOT NULL CHECK (status IN ('scheduled','queued','assigned','completed','failed','cancelled')),
  phone              text,            -- E.164; NULL once anonymised
  phone_region       text,
  fiche_id           text,
  subject            text,
  window_start       timestamptz NOT NULL,
  window_end         timestamptz NOT NULL,
  due_at             timestamptz NOT NULL,   -- when it may be called (window start, or next attempt)
  queued_at          timestamptz,
  attempts           integer NOT NULL DEFAULT 0,
  carried_over       boolean NOT NULL DEFAULT false,
  assigned_agent_id  uuid REFERENCES agents (id),
  assigned_at        timestamptz,
  lease_expires_at   timestamptz,
  outcome            text CHECK (outcome IN ('reached','no_answer','wrong_number','redirected','unreachable')),
  redirected_to      text,
  cancel_token_hash  bytea NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  ended_at           timestamptz,
  anonymised_at      timestamptz,
  CHECK (window_start < window_end),
  CHECK ((status = 'assigned') = (assigned_agent_id IS NOT NULL))
);
-- One active callback per phone and domain (DUPLICATE_REQUEST), enforced by the database.
CREATE UNIQUE INDEX callbacks_active_phone_domain ON callbacks (phone, domain)
  WHERE status IN ('scheduled','queued','assigned');
-- Never two unfinished callbacks on one desk.
CREATE UNIQUE INDEX callbacks_one_per_desk ON callbacks (assigned_agent_id) WHERE status = 'assigned';
-- Claim order: carried over first, then earliest due, then fewest attempts.
CREATE INDEX callbacks_queue ON callbacks (domain, carried_over DESC, due_at, attempts) WHERE status = 'queued';
CREATE INDEX callbacks_scheduled_due ON callbacks (domain, due_at) WHERE status = 'scheduled';
CREATE INDEX callbacks_leases ON callbacks (lease_expires_at) WHERE status = 'assigned';
CREATE INDEX callbacks_window ON callbacks (window_start) WHERE status IN ('scheduled','queued');
CREATE INDEX callbacks_created ON callbacks (created_at DESC, id DESC);
CREATE INDEX callbacks_ended ON callbacks (ended_at) WHERE ended_at IS NOT NULL AND anonymised_at IS NULL;

CREATE TABLE callback_events (
  id           bigserial PRIMARY KEY,
  callback_id  uuid NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
  type         text NOT NULL,
  from_status  text,
  to_status    text,
  actor        text NOT NULL,          -- 'citizen', 'ops', 'agent:<uuid>', 'system'
  at           timestamptz NOT NULL,
  data         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX callback_events_callback ON callback_events (callback_id, id);

-- Transactional outbox: written with the state change, relayed to BullMQ with a deterministic jobId.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  job_name    text NOT NULL,
  job_id      text NOT NULL,
  payload     jsonb NOT NULL,
  run_at      timestamptz NOT NULL,
  created_at  timestamptz NOT NULL,
  sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Idempotency-Key: the successful response of the first request, kept 24 hours.
CREATE TABLE idempotency_keys (
  key              text PRIMARY KEY,
  request_hash     bytea NOT NULL,
  response_status  integer NOT NULL,
  response_body    jsonb NOT NULL,
  created_at       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- Fixed-window counters for abuse limits when no Redis is configured.
CREATE TABLE rate_limits (
  bucket    text PRIMARY KEY,
  count     integer NOT NULL,
  reset_at  timestamptz NOT NULL
);
CREATE INDEX rate_limits_reset ON rate_limits (reset_at);
