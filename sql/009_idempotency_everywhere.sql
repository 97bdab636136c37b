-- Idempotency-Key on every POST that creates something (API.md section 1; was POST /v1/events only).
-- The stored answer is replayed as it was: status, body, Location and ETag. The body is kept sealed
-- (encrypted with a key derived from the server's secret, the caller and the Idempotency-Key): some
-- answers carry a secret shown once (a member's one-time password, a partner's client_secret), which
-- must not sit in the database in the clear for the 48 hours a key is kept. request_hash now covers
-- the method and path as well as the body, so a key reused on another route is 422 too.
ALTER TABLE idempotency_keys
  ADD COLUMN response_sealed   text,
  ADD COLUMN response_location text,
  ADD COLUMN response_etag     text;
