-- Notifications, their live stream, the job runner and personal calendar feeds (API.md section 10).

-- One row per recipient. Written in the same transaction as the change that causes it, set-based
-- (INSERT ... SELECT over the recipients), so a rolled-back change notifies nobody.
-- seq orders a member's feed and is the cursor of the list and of the stream (SSE "id:").
-- title is a short line built from names only: never notes, discussion text or emails.
CREATE TABLE notifications (
  seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id           uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  member_id    uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  kind         text NOT NULL CHECK (kind IN (
                 'membership.invited', 'membership.requested', 'membership.approved', 'terms.published',
                 'meeting.scheduled', 'meeting.changed', 'consultation.opened', 'consultation.closing_soon',
                 'consultation.outcome_published', 'event.published', 'event.cancelled', 'event.changed',
                 'registration.promoted', 'thread.created', 'thread.reply')),
  subject_type text NOT NULL CHECK (subject_type IN ('group', 'meeting', 'consultation', 'event', 'thread')),
  subject_id   uuid NOT NULL,
  group_id     uuid REFERENCES groups (id),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  read_at      timestamptz
);
-- A member's feed newest first, and the stream's replay (seq > Last-Event-ID).
CREATE INDEX notifications_member_seq ON notifications (member_id, seq);
-- unread_count: an index-only count over a member's unread rows.
CREATE INDEX notifications_member_unread ON notifications (member_id, seq) WHERE read_at IS NULL;
-- Retention purge (180 days).
CREATE INDEX notifications_created ON notifications (created_at);

-- Wake-ups for streams on every instance: one NOTIFY per recipient of the statement, payload the
-- member's id (PostgreSQL folds identical payloads of one transaction into one). Delivered at commit only,
-- so a rolled-back change wakes nobody. Each instance LISTENs on one dedicated connection.
CREATE FUNCTION notifications_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('forumnet_notifications', member_id::text)
     FROM (SELECT DISTINCT member_id FROM new_rows) AS recipients;
  RETURN NULL;
END $$;
CREATE TRIGGER notifications_wake AFTER INSERT ON notifications
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION notifications_wake();

-- Single-use tickets that let a browser's EventSource (which cannot send Authorization) open the
-- stream. Stored as a digest; valid 60 seconds; spent_at set by the one request that uses it.
CREATE TABLE stream_tickets (
  digest     bytea PRIMARY KEY,
  member_id  uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  -- the access token's expiry: a stream opened with the ticket ends when that token would have
  token_expires_at timestamptz NOT NULL,
  -- and its issue time (milliseconds): the stream re-checks it as the dispatcher checks a token, so a
  -- password change, suspension or erasure after it ends the stream
  token_issued_ms  bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  spent_at   timestamptz
);
CREATE INDEX stream_tickets_expires ON stream_tickets (expires_at);

-- A member suspended or erased, or whose credentials changed (password change, sign-out everywhere):
-- streams held for them on every instance re-check their token at once, and end. Payload: the member's
-- id; delivered at commit.
CREATE FUNCTION members_status_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('forumnet_members', NEW.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER members_status_wake AFTER UPDATE OF status, credentials_changed_at ON members
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                     OR OLD.credentials_changed_at IS DISTINCT FROM NEW.credentials_changed_at)
  EXECUTE FUNCTION members_status_wake();

-- Time-based work for the job runner inside `forumnet serve`: due rows are claimed with
-- FOR UPDATE SKIP LOCKED by whichever instance polls first, so each runs once however many instances run.
-- (kind, dedupe_key) makes enqueueing idempotent: a job for the same thing is scheduled once.
CREATE TABLE jobs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
  dedupe_key  text,
  payload     jsonb NOT NULL DEFAULT '{}',
  run_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (kind, dedupe_key)
);
CREATE INDEX jobs_due ON jobs (run_at);

-- Personal calendar feeds: the secret appears once, in the URL; only its digest is kept.
CREATE TABLE calendar_feeds (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  member_id  uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  digest     bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  revoked_at timestamptz
);
CREATE INDEX calendar_feeds_member ON calendar_feeds (member_id, created_at, id);

-- consultation.closing_soon is sent once per consultation: the job runner's scan
-- (src/resources/notifications_jobs.c) sets this in the statement that notifies, so a second scan, on any
-- instance, finds nothing left to do. The partial index holds only the consultations still to notify.
ALTER TABLE consultations ADD COLUMN closing_soon_notified_at timestamptz;
CREATE INDEX consultations_closing_soon ON consultations (closes_at)
  WHERE status = 'open' AND closing_soon_notified_at IS NULL;
