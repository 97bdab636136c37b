-- Forum groups: membership, terms of reference and meetings (API.md section 5).

CREATE TABLE groups (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id       uuid REFERENCES sites (id), -- NULL: a network-wide group such as the central group
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  purpose       text CHECK (length(purpose) BETWEEN 1 AND 2000),
  composition   text NOT NULL DEFAULT 'multi_disciplinary'
                CHECK (composition IN ('multi_disciplinary', 'single_discipline')),
  focus         text NOT NULL DEFAULT 'other' CHECK (focus IN ('organisation', 'locality', 'specialism', 'other')),
  min_members   integer NOT NULL DEFAULT 4 CHECK (min_members BETWEEN 2 AND 50),
  max_members   integer NOT NULL DEFAULT 8 CHECK (max_members BETWEEN 2 AND 50),
  status        text NOT NULL DEFAULT 'forming' CHECK (status IN ('forming', 'active', 'dormant', 'closed')),
  -- Active memberships, kept in step in the transaction that changes them.
  member_count  integer NOT NULL DEFAULT 0 CHECK (member_count >= 0),
  terms_version integer NOT NULL DEFAULT 0, -- 0: no terms yet
  created_by    uuid REFERENCES members (id),
  closed_at     timestamptz,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (min_members <= max_members),
  CHECK (member_count <= max_members)
);
-- The directory: all groups, or one site's, in keyset order.
CREATE INDEX groups_created_id ON groups (created_at, id);
CREATE INDEX groups_site_created_id ON groups (site_id, created_at, id);
-- "Does this site still have open groups?" when a site is archived.
CREATE INDEX groups_site_open ON groups (site_id) WHERE status <> 'closed';

CREATE TABLE group_memberships (
  group_id               uuid NOT NULL REFERENCES groups (id),
  member_id              uuid NOT NULL REFERENCES members (id),
  state                  text NOT NULL CHECK (state IN ('requested', 'invited', 'active')),
  role                   text NOT NULL DEFAULT 'member'
                         CHECK (role IN ('member', 'convener', 'facilitator', 'representative')),
  -- In a network-wide group: the site group this representative speaks for.
  represents_group_id    uuid REFERENCES groups (id),
  invited_by             uuid REFERENCES members (id),
  created_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  joined_at              timestamptz,
  accepted_terms_version integer NOT NULL DEFAULT 0,
  version                integer NOT NULL DEFAULT 1,
  PRIMARY KEY (group_id, member_id)
);
-- A group's member list in keyset order.
CREATE INDEX group_memberships_group_created ON group_memberships (group_id, created_at, member_id);
-- A member's groups (?mine=true, visibility checks).
CREATE INDEX group_memberships_member ON group_memberships (member_id, group_id);
-- Network memberships naming a represented group, cleared when that representation ends.
CREATE INDEX group_memberships_represents ON group_memberships (represents_group_id)
  WHERE represents_group_id IS NOT NULL;

CREATE TABLE group_terms (
  group_id   uuid NOT NULL REFERENCES groups (id),
  version    integer NOT NULL CHECK (version >= 1),
  body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
  review_on  date,
  created_by uuid REFERENCES members (id),
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (group_id, version)
);

CREATE TABLE terms_acceptances (
  group_id    uuid NOT NULL,
  version     integer NOT NULL,
  member_id   uuid NOT NULL REFERENCES members (id),
  accepted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (group_id, version, member_id),
  FOREIGN KEY (group_id, version) REFERENCES group_terms (group_id, version)
);

CREATE TABLE meetings (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  group_id   uuid NOT NULL REFERENCES groups (id),
  starts_at  timestamptz NOT NULL,
  ends_at    timestamptz NOT NULL,
  location   text CHECK (length(location) BETWEEN 1 AND 200),
  online     boolean NOT NULL DEFAULT false,
  agenda     text CHECK (length(agenda) <= 10000),
  notes      text CHECK (length(notes) <= 50000),
  -- Tags the group chooses to share in aggregate (manager summaries count them, never notes).
  themes     text[] NOT NULL DEFAULT '{}',
  created_by uuid REFERENCES members (id),
  version    integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (ends_at > starts_at AND ends_at <= starts_at + interval '24 hours')
);
-- A group's meetings in keyset order of their start.
CREATE INDEX meetings_group_starts ON meetings (group_id, starts_at, id);

CREATE TABLE meeting_attendance (
  meeting_id  uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
  member_id   uuid NOT NULL REFERENCES members (id),
  status      text NOT NULL CHECK (status IN ('present', 'apologies', 'absent')),
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (meeting_id, member_id)
);
