-- Single sign-on with OpenID Connect (issue 16, API.md section 12, README "Single sign-on (OpenID Connect)").

-- A sign-in started (POST /v1/auth/oidc/{provider}/start) and not yet finished: kept in the database so
-- that any instance can finish it. Keyed by the SHA-256 of the state string (never the state itself);
-- single use (the callback deletes it), valid 10 minutes.
CREATE TABLE oidc_flows (
  state_digest  bytea PRIMARY KEY,
  provider_id   text NOT NULL,
  nonce         text NOT NULL,
  code_verifier text NOT NULL,
  redirect_uri  text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at    timestamptz NOT NULL DEFAULT clock_timestamp() + interval '10 minutes'
);
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);

-- An identity at a provider (its issuer and subject) linked to a member: the member signs in with it.
CREATE TABLE member_identities (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  member_id    uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  provider_id  text NOT NULL,
  issuer       text NOT NULL,
  subject      text NOT NULL,
  email        text,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  last_used_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (issuer, subject)
);
CREATE INDEX member_identities_member ON member_identities (member_id, created_at);
