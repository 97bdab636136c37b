-- Partner integrations and events (API.md section 7).

CREATE TABLE partners (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  client_id     text NOT NULL UNIQUE,
  secret_digest text NOT NULL, -- BLAKE2b of the client secret: the secret itself is never stored
  trusted       boolean NOT NULL DEFAULT false,
  revoked_at    timestamptz,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX partners_created_id ON partners (created_at, id);

CREATE TABLE events (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind         text NOT NULL
               CHECK (kind IN ('learning_forum', 'seminar', 'workshop', 'training', 'network_meeting', 'other')),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  description  text CHECK (length(description) <= 10000),
  starts_at    timestamptz NOT NULL,
  ends_at      timestamptz NOT NULL,
  location     text CHECK (length(location) BETWEEN 1 AND 200),
  online_url   text CHECK (length(online_url) <= 500),
  network_wide boolean NOT NULL, -- audience {"scope":"network"}; otherwise event_sites
  capacity     integer CHECK (capacity BETWEEN 1 AND 100000),
  status       text NOT NULL CHECK (status IN ('pending', 'published', 'cancelled')),
  -- The owner: exactly one of a member (admin or manager) and a partner.
  created_by   uuid REFERENCES members (id),
  partner_id   uuid REFERENCES partners (id),
  external_id  text CHECK (length(external_id) BETWEEN 1 AND 200),
  version      integer NOT NULL DEFAULT 1, -- the ETag: moves with registrations too
  revision     integer NOT NULL DEFAULT 1, -- what the event says (calendar SEQUENCE): not registrations
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (ends_at > starts_at),
  CHECK ((created_by IS NULL) <> (partner_id IS NULL)),
  CHECK (external_id IS NULL OR partner_id IS NOT NULL)
);
-- external_id is unique per partner: a partner's retries cannot duplicate an event.
CREATE UNIQUE INDEX events_partner_external ON events (partner_id, external_id) WHERE external_id IS NOT NULL;
-- Listings and the calendar are in start order.
CREATE INDEX events_starts_id ON events (starts_at, id);
CREATE INDEX events_partner_starts ON events (partner_id, starts_at, id) WHERE partner_id IS NOT NULL;

CREATE TABLE event_sites (
  event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  site_id  uuid NOT NULL REFERENCES sites (id),
  PRIMARY KEY (event_id, site_id)
);
CREATE INDEX event_sites_site ON event_sites (site_id, event_id);

CREATE TABLE event_registrations (
  event_id           uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  member_id          uuid NOT NULL REFERENCES members (id),
  status             text NOT NULL CHECK (status IN ('going', 'waitlisted', 'interested', 'declined')),
  requested_going_at timestamptz, -- when they last asked to go: the waitlist's order
  version            integer NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (event_id, member_id)
);
-- The oldest waitlisted member of an event, and per-status counts.
CREATE INDEX event_registrations_waitlist ON event_registrations (event_id, status, requested_going_at, member_id);
-- The owner's list of registrations in keyset order.
CREATE INDEX event_registrations_event_created ON event_registrations (event_id, created_at, member_id);

-- Idempotency-Key records: per client (member or partner id), kept 48 hours.
CREATE TABLE idempotency_keys (
  client_id     uuid NOT NULL,
  key           text NOT NULL,
  request_hash  text NOT NULL,
  response_code integer,
  response_body text,
  resource_id   uuid,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (client_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Who may see an event (API.md section 7), one place for every query. A partner sees only its
-- own events; a member sees published events for the network or their home site, and the events
-- they own; a manager also sees pending events for the sites they manage; admins see everything.
CREATE FUNCTION event_visible(event uuid, status text, network_wide boolean, owner_member uuid, owner_partner uuid,
                              caller uuid, caller_role text, caller_home_site uuid, caller_partner uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT CASE
    WHEN caller_partner IS NOT NULL THEN owner_partner IS NOT DISTINCT FROM caller_partner
    WHEN caller_role = 'admin' OR owner_member = caller THEN true
    ELSE (status = 'published' AND (network_wide OR EXISTS (
            SELECT 1 FROM event_sites es WHERE es.event_id = event AND es.site_id = caller_home_site)))
      -- a member who registered still sees the event once it is cancelled (their calendar shows it so)
      OR (status = 'cancelled' AND EXISTS (
            SELECT 1 FROM event_registrations r WHERE r.event_id = event AND r.member_id = caller))
      OR (caller_role = 'manager' AND status <> 'cancelled' AND EXISTS (
            SELECT 1 FROM event_sites es JOIN site_managers sm ON sm.site_id = es.site_id
            WHERE es.event_id = event AND sm.member_id = caller))
  END
$$;

-- Partners act too: the audit log says which kind of actor actor_id names.
ALTER TABLE audit_log ADD COLUMN actor_kind text NOT NULL DEFAULT 'member'
  CHECK (actor_kind IN ('member', 'partner', 'system'));
