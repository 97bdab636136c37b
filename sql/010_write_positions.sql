-- Read-your-writes for summaries served by a streaming replica (FORUMNET_DATABASE_READ_URL; README
-- "Running several instances"). Only when a replica is configured, the request layer records here, after
-- each change a member made, the primary's WAL insert position once that change has committed; a summary
-- runs on the replica only when the replica has replayed up to the caller's position, else on the primary.
-- One row per member, overwritten: nothing the member wrote, only where in the log their last change ends.
-- Erasure deletes the row (members_db.c).
CREATE TABLE member_write_positions (
  member_id  uuid PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
  lsn        pg_lsn NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
