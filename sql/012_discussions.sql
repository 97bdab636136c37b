-- Group discussions between meetings (API.md section 11): threads, their posts, and how far each
-- member has read. Exactly as confidential as meeting notes: only the group's active members read them.

-- A thread. post_count is also the seq of its last post (every post counts, removed ones too: they
-- stay in the thread as placeholders), so a member's unread count is post_count - read_upto, read
-- from one row of thread_reads: no per-post read rows. version covers the thread's own fields
-- (title, pinned, locked); new posts change post_count and last_post_at, not version.
CREATE TABLE threads (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  group_id     uuid NOT NULL REFERENCES groups (id),
  title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  created_by   uuid NOT NULL REFERENCES members (id),
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  last_post_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  post_count   integer NOT NULL DEFAULT 0 CHECK (post_count >= 0),
  pinned       boolean NOT NULL DEFAULT false,
  locked       boolean NOT NULL DEFAULT false,
  version      bigint NOT NULL DEFAULT 1,
  search       tsvector GENERATED ALWAYS AS (to_tsvector('english', title)) STORED
);
-- "Latest activity first" keyset pages of a group: (last_post_at, id) descending.
CREATE INDEX threads_group_activity ON threads (group_id, last_post_at DESC, id DESC);
CREATE INDEX threads_search ON threads USING gin (search);
CREATE INDEX threads_created_by ON threads (created_by);

-- A post. seq numbers the thread's posts from 1, given under the thread's row lock (the UPDATE of
-- post_count), so concurrent posts never share one and unread counts stay exact. A removed post keeps
-- its row (and seq) without its words. An erased author's posts stay: the members row says "former member".
CREATE TABLE posts (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  thread_id  uuid NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  seq        integer NOT NULL CHECK (seq >= 1),
  author_id  uuid NOT NULL REFERENCES members (id),
  body       text CHECK (char_length(body) BETWEEN 1 AND 20000),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  edited_at  timestamptz,
  removed_at timestamptz,
  version    bigint NOT NULL DEFAULT 1,
  search     tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(body, ''))) STORED,
  CHECK ((removed_at IS NULL) = (body IS NOT NULL)),
  UNIQUE (thread_id, seq)
);
-- "Oldest first" keyset pages of a thread: (created_at, id).
CREATE INDEX posts_thread_created ON posts (thread_id, created_at, id);
CREATE INDEX posts_search ON posts USING gin (search);
CREATE INDEX posts_author ON posts (author_id);

-- How far a member has read a thread: every post with seq <= read_upto. One row per (thread, member),
-- written by PUT .../read and by the member's own posts. Deleted by erasure.
CREATE TABLE thread_reads (
  thread_id uuid NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
  member_id uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
  read_upto integer NOT NULL DEFAULT 0 CHECK (read_upto >= 0),
  read_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (thread_id, member_id)
);
CREATE INDEX thread_reads_member ON thread_reads (member_id);
