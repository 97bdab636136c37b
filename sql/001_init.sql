-- forumnet base schema: sites, members, site managers, refresh tokens, login
-- rate limiting and the audit log. Never edit once landed: add 002_... instead.

-- RFC 3339 in UTC with whole seconds, the one timestamp format of the API.
CREATE FUNCTION rfc3339(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

-- Full-precision key for keyset cursors (created_at, id).
CREATE FUNCTION cursor_key(ts timestamptz, id uuid) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || id::text $$;

CREATE TABLE sites (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) BETWEEN 2 AND 64),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  organisation text NOT NULL CHECK (length(organisation) BETWEEN 1 AND 200),
  region       text CHECK (length(region) BETWEEN 1 AND 100),
  timezone     text NOT NULL DEFAULT 'Europe/London',
  archived_at  timestamptz,
  version      integer NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Serves the keyset-paginated directory (GET /v1/sites), archived or not.
CREATE INDEX sites_created_id ON sites (created_at, id);

CREATE TABLE members (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email                text CHECK (length(email) BETWEEN 3 AND 254), -- NULL once erased
  display_name         text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  role                 text NOT NULL CHECK (role IN ('admin', 'manager', 'facilitator', 'practitioner')),
  discipline           text CHECK (length(discipline) BETWEEN 1 AND 100),
  home_site_id         uuid REFERENCES sites (id),
  status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'erased')),
  password_hash        text,
  must_change_password boolean NOT NULL DEFAULT false,
  version              integer NOT NULL DEFAULT 1,
  created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Email is unique regardless of case; login looks members up through this index.
CREATE UNIQUE INDEX members_email_lower ON members (lower(email));
CREATE INDEX members_created_id ON members (created_at, id);
-- Managers list the members of their sites.
CREATE INDEX members_home_site_created_id ON members (home_site_id, created_at, id);

CREATE TABLE site_managers (
  site_id    uuid NOT NULL REFERENCES sites (id),
  member_id  uuid NOT NULL REFERENCES members (id),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (site_id, member_id)
);
-- "Which sites does this caller manage?" runs on most authorization checks.
CREATE INDEX site_managers_member ON site_managers (member_id, site_id);

-- Refresh tokens are stored only as digests. A chain is one login's succession of
-- rotated tokens: presenting a spent token revokes the whole chain.
CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  token_hash  text NOT NULL UNIQUE,
  chain_id    uuid NOT NULL,
  member_id   uuid NOT NULL REFERENCES members (id),
  issued_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_chain ON refresh_tokens (chain_id);
CREATE INDEX refresh_tokens_member ON refresh_tokens (member_id);

-- Failed logins per bucket ('email:<lower email>' or 'addr:<client address>') in a
-- fixed window. Kept in the database so every instance shares the count.
CREATE TABLE login_failures (
  bucket       text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  failures     integer NOT NULL
);

CREATE TABLE audit_log (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor_id      uuid,
  action        text NOT NULL,
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  request_id    text,
  details       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
