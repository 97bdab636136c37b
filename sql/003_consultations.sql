-- Consultations: managers consult forums, forums answer as groups, managers publish
-- what they did (API.md section 6).

CREATE TABLE consultations (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  summary      text NOT NULL CHECK (length(summary) BETWEEN 1 AND 5000),
  questions    jsonb NOT NULL, -- [{"id": "...", "text": "..."}] in the owner's order
  -- Stored status; an 'open' consultation past closes_at is closed in effect (consultation_status()).
  status       text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed', 'outcome_published')),
  opens_at     timestamptz NOT NULL,
  closes_at    timestamptz NOT NULL,
  created_by   uuid NOT NULL REFERENCES members (id),
  outcome      jsonb, -- {"summary", "actions": [{"text", "status"}], "published_at"}
  version      integer NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (closes_at > opens_at)
);
CREATE INDEX consultations_created_id ON consultations (created_at, id);
CREATE INDEX consultations_owner ON consultations (created_by);

CREATE TABLE consultation_target_sites (
  consultation_id uuid NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
  site_id         uuid NOT NULL REFERENCES sites (id),
  PRIMARY KEY (consultation_id, site_id)
);
-- "Which consultations target this site?" (visibility, ?site_id=).
CREATE INDEX consultation_target_sites_site ON consultation_target_sites (site_id, consultation_id);

CREATE TABLE consultation_target_groups (
  consultation_id uuid NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
  group_id        uuid NOT NULL REFERENCES groups (id),
  PRIMARY KEY (consultation_id, group_id)
);
CREATE INDEX consultation_target_groups_group ON consultation_target_groups (group_id, consultation_id);

-- One response per targeted group: the group's agreed answer.
CREATE TABLE consultation_responses (
  consultation_id uuid NOT NULL REFERENCES consultations (id) ON DELETE CASCADE,
  group_id        uuid NOT NULL REFERENCES groups (id),
  answers         jsonb NOT NULL DEFAULT '[]',
  status          text NOT NULL CHECK (status IN ('draft', 'submitted')),
  submitted_at    timestamptz,
  version         integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (consultation_id, group_id)
);
-- Summaries count a group's submitted responses.
CREATE INDEX consultation_responses_group ON consultation_responses (group_id, consultation_id);

-- The status every reader and writer goes by.
CREATE FUNCTION consultation_status(status text, closes_at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN status = 'open' AND closes_at <= now() THEN 'closed' ELSE status END $$;

-- Groups a consultation asks: its target groups and the groups at its target sites that are not closed.
CREATE FUNCTION consultation_targeted_groups(consultation uuid) RETURNS SETOF uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT tg.group_id FROM consultation_target_groups tg WHERE tg.consultation_id = consultation
  UNION
  SELECT g.id FROM consultation_target_sites ts JOIN groups g ON g.site_id = ts.site_id AND g.status <> 'closed'
  WHERE ts.consultation_id = consultation
$$;

-- The visibility rule of API.md section 6 (see README "Consultations"), one place for every query.
CREATE FUNCTION consultation_visible(consultation uuid, owner uuid, status text, caller uuid, caller_role text,
                                     caller_home_site uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT caller_role = 'admin' OR owner = caller OR (status <> 'draft' AND (
    -- managers of a targeted site, directly or through a target group's site
    (caller_role = 'manager' AND EXISTS (
       SELECT 1 FROM site_managers sm
       WHERE sm.member_id = caller AND sm.site_id IN (
         SELECT ts.site_id FROM consultation_target_sites ts WHERE ts.consultation_id = consultation
         UNION SELECT g.site_id FROM consultation_target_groups tg JOIN groups g ON g.id = tg.group_id
               WHERE tg.consultation_id = consultation)))
    -- members of a target site
    OR EXISTS (SELECT 1 FROM consultation_target_sites ts
               WHERE ts.consultation_id = consultation AND ts.site_id = caller_home_site)
    -- active members of a targeted group
    OR EXISTS (SELECT 1 FROM group_memberships gm
               WHERE gm.member_id = caller AND gm.state = 'active'
                 AND gm.group_id IN (SELECT consultation_targeted_groups(consultation)))))
$$;
