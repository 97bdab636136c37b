-- Credential changes end every access token issued before them (API.md section 3).
-- The dispatcher reads these columns by primary key on every authenticated request and
-- rejects a token whose issue time (the iat_ms claim, milliseconds) is earlier.
-- members: set at creation and by every password change, suspension and erasure.
-- password_set_at: when the current password was set; a one-time password
-- (must_change_password) is refused at login 7 days after it.
ALTER TABLE members ADD COLUMN credentials_changed_at timestamptz, ADD COLUMN password_set_at timestamptz;
UPDATE members SET credentials_changed_at = created_at, password_set_at = created_at;
ALTER TABLE members ALTER COLUMN credentials_changed_at SET DEFAULT clock_timestamp(),
  ALTER COLUMN credentials_changed_at SET NOT NULL,
  ALTER COLUMN password_set_at SET DEFAULT clock_timestamp(),
  ALTER COLUMN password_set_at SET NOT NULL;

-- partners: set at creation and by every secret rotation and revocation.
ALTER TABLE partners ADD COLUMN credentials_changed_at timestamptz;
UPDATE partners SET credentials_changed_at = created_at;
ALTER TABLE partners ALTER COLUMN credentials_changed_at SET DEFAULT clock_timestamp(),
  ALTER COLUMN credentials_changed_at SET NOT NULL;

-- login_failures now holds 'email:<keyed BLAKE2b of the lowercased email>' instead of the
-- typed text: drop the plaintext rows. Rows older than the window are deleted at login,
-- found through this index.
DELETE FROM login_failures WHERE bucket LIKE 'email:%';
CREATE INDEX login_failures_window_start ON login_failures (window_start);
