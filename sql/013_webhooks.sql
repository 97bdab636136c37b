-- Partner webhooks (issue 17, API.md section 13): endpoints a partner registers, and the deliveries the
-- job runner sends them (Standard Webhooks). A delivery is one message to one endpoint; its id is the
-- stable `webhook-id` (msg_...). Each pending delivery has one job row (kind webhook.deliver, dedupe key
-- the delivery id) that schedules its next attempt: the jobs table is what instances claim with
-- FOR UPDATE SKIP LOCKED, so a delivery in flight keeps its job row locked, and a crash releases it.

-- The scopes an admin granted a partner; a client-credentials token carries the intersection with those
-- it asks for.
ALTER TABLE partners ADD COLUMN scopes text[] NOT NULL DEFAULT '{events:write}'
  CHECK (scopes <@ ARRAY['events:write', 'webhooks:manage']);

CREATE TABLE webhook_endpoints (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  partner_id          uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
  url                 text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
  events              text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 4),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  disabled_reason     text,
  -- secrets are sealed with crypto_secretbox under the configured webhook key: nonce || box
  secret_box          bytea NOT NULL,
  previous_secret_box bytea,
  previous_until      timestamptz,
  failing_since       timestamptz,
  version             integer NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX webhook_endpoints_partner ON webhook_endpoints (partner_id, created_at, id);

CREATE TABLE webhook_deliveries (
  uid              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- the webhook-id: stable across retries, what the routes and receivers call the delivery
  id               text GENERATED ALWAYS AS ('msg_' || replace(uid::text, '-', '')) STORED UNIQUE,
  endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  type             text NOT NULL,
  event_id         uuid,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'abandoned')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  response_excerpt text CHECK (octet_length(response_excerpt) <= 1024),
  -- event.registration_counts: at most one pending per endpoint and event (coalesced)
  coalesce_key     text,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The delivery log of an endpoint, newest first (keyset).
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, uid);
-- Queue depth and the oldest pending delivery (metrics); the jobs table does the claiming.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE UNIQUE INDEX webhook_deliveries_coalesce ON webhook_deliveries (endpoint_id, coalesce_key)
  WHERE coalesce_key IS NOT NULL AND status = 'pending';
