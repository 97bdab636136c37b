-- Password reset and email (issue 16, README "Password reset and email").

-- A set-password link: only the digest of its token is kept (hex BLAKE2b-256, as refresh tokens are).
-- Single use (used_at); valid 30 minutes for a reset, 7 days for an invitation (purpose 'invite').
CREATE TABLE password_resets (
  digest     text PRIMARY KEY,
  member_id  uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  purpose    text NOT NULL CHECK (purpose IN ('reset', 'invite')),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX password_resets_member ON password_resets (member_id);

-- Email waiting to be sent, written in the transaction of the change that causes it; a 'mail.send' job
-- (payload {"outbox_id": ...}) delivers it and deletes the row, so a sent message (and the link in it)
-- is not kept. The job row counts the attempts and holds the last error.
CREATE TABLE mail_outbox (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  member_id  uuid REFERENCES members (id) ON DELETE CASCADE,
  to_address text NOT NULL,
  subject    text NOT NULL,
  body       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX mail_outbox_member ON mail_outbox (member_id);
